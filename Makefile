# Two commands do all the set-up: `make book` builds the executed book, `make test` runs every test.
# Both create or reuse the virtual environment in .venv and are safe to run again; so does
# `make lab`, which opens the chapters as notebooks in JupyterLab.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= auto

MERMAID := _build/static/mermaid
# jupytext's default viewer, set in this environment only (not in the user's Jupyter settings)
LAB_SETTINGS := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
LAB_PORT ?= 8888
REMOTE ?= origin

.PHONY: book pdf notebooks publish-notebooks lab test check format bench bench-snapshot serve constraints clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[book,lab,test]"
	touch $(STAMP)

# Mermaid comes from the npm registry (package.json pins it) and is served by the book itself;
# mermaid-cli draws the PDF's diagrams with the machine's Chromium (no browser download).
node_modules/.package-lock.json: package.json package-lock.json
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --silent --no-audit --no-fund

$(MERMAID)/mermaid.esm.min.mjs: node_modules/.package-lock.json
	rm -rf $(MERMAID) && mkdir -p $(MERMAID)/chunks/mermaid.esm.min
	cp node_modules/mermaid/dist/mermaid.esm.min.mjs $(MERMAID)/
	cp node_modules/mermaid/dist/chunks/mermaid.esm.min/*.mjs $(MERMAID)/chunks/mermaid.esm.min/

## book: build _build/html, executing every chapter; a warning or a failing cell fails the build
book: $(STAMP) $(MERMAID)/mermaid.esm.min.mjs notebooks
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going --builder html

## pdf: the whole book as one PDF, _build/latex/book.pdf, for reading offline. It reuses the
## execution cache of `make book` (pages that changed run again). Needs XeLaTeX and Chromium;
## on Debian: apt-get install texlive-xetex texlive-latex-extra texlive-fonts-recommended
## texlive-plain-generic latexmk xindy fonts-freefont-otf poppler-utils chromium
CHROMIUM ?= $(firstword $(foreach b,chromium chromium-browser google-chrome,$(shell command -v $(b))))
pdf: $(STAMP) $(MERMAID)/mermaid.esm.min.mjs
	PUPPETEER_EXECUTABLE_PATH=$(CHROMIUM) $(VENV)/bin/jupyter-book build . --warningiserror \
		--keep-going --builder pdflatex

## notebooks: one .ipynb per page in _build/notebooks (Colab, downloads), led by a cell that
## installs the package where it is missing, as of the current commit
notebooks: $(STAMP)
	$(PY) _ext/notebooks.py write

## publish-notebooks: commit those notebooks to the `notebooks` branch, where the Colab buttons
## point, and push it to $(REMOTE) (after pushing the commit they install from)
publish-notebooks: $(STAMP)
	$(PY) _ext/notebooks.py publish --remote $(REMOTE)

$(LAB_SETTINGS): $(STAMP)
	$(VENV)/bin/jupytext-config --settings-file $@ set-default-viewer markdown myst

## lab: JupyterLab on http://127.0.0.1:$(LAB_PORT); every page under book/ opens as a notebook,
## and saving writes the page's MyST Markdown back. Extra options: LAB_ARGS="--no-browser"
lab: $(STAMP) $(LAB_SETTINGS)
	exec $(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.root_dir=. \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## test: build the book and its PDF (cached), then run the whole suite: unit tests, every chapter
## under nbval, the browser check, the PDF's check
test: book pdf
	$(PY) -m pytest -n $(JOBS) --dist loadfile

## check: the unit tests alone, in parallel: tests/ without the chapters and without the checks
## of the built book (browser, notebooks, Colab); the quick loop while changing the package
BUILT_BOOK_TESTS := tests/test_browser.py tests/test_launch.py tests/test_lab.py tests/test_colab.py
check: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests $(BUILT_BOOK_TESTS:%=--ignore=%)

## format: format the code cells of every page with black, to the column width set in
## pyproject.toml (jupytext rewrites each page in place; prose and cell options are kept)
PAGES_WITH_CODE = $(shell grep -rl --include='*.md' '^```{code-cell}' book)
format: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/jupytext --quiet --pipe "black --quiet {}" \
		--opt notebook_metadata_filter=-jupytext.text_representation.jupytext_version \
		$(PAGES_WITH_CODE)

## bench: time every chapter and compare scratch layers with torch; writes _build/bench/results.json.
## BENCH="--busy 2" also runs each chapter beside 2 CPU-bound co-tenants and reports the slowdown;
## BENCH="--pages transformers/few-shot ..." times only those chapters
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH)
	$(PY) -m benchmarks.determinism $(DETERMINISM)

## bench-snapshot: the complete run, idle and busy, also written to benchmarks/results.json (the appendix's figures)
bench-snapshot: $(STAMP)
	$(PY) -m benchmarks --busy 2 --snapshot

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
