# Two commands do all the set-up: `make book` builds the executed book, `make test` runs every test.
# Both create or reuse the virtual environment in .venv and are safe to run again.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= auto

MERMAID := _build/static/mermaid

.PHONY: book test bench serve constraints clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

# Mermaid comes from the npm registry (package.json pins it) and is served by the book itself.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --silent --no-audit --no-fund

$(MERMAID)/mermaid.esm.min.mjs: node_modules/.package-lock.json
	rm -rf $(MERMAID) && mkdir -p $(MERMAID)/chunks/mermaid.esm.min
	cp node_modules/mermaid/dist/mermaid.esm.min.mjs $(MERMAID)/
	cp node_modules/mermaid/dist/chunks/mermaid.esm.min/*.mjs $(MERMAID)/chunks/mermaid.esm.min/

## book: build _build/html, executing every chapter; a warning or a failing cell fails the build
book: $(STAMP) $(MERMAID)/mermaid.esm.min.mjs
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going --builder html

## test: build the book (cached), then run the whole suite: unit tests, every chapter under nbval, the browser check
test: book
	$(PY) -m pytest -n $(JOBS) --dist loadfile

## bench: time every chapter and compare scratch layers with torch; writes _build/bench/results.json
bench: $(STAMP)
	$(PY) -m benchmarks

## serve: serve the built book on http://127.0.0.1:8000 (works with no network)
serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

## constraints: re-pin every dependency after changing pyproject.toml
constraints: $(STAMP)
	head -n 2 constraints.txt > constraints.new
	$(PY) -m pip freeze --exclude-editable | sed 's/+cpu//' >> constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf _build
