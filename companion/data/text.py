"""A character-level corpus made from the docstrings of Python's own standard library.

Every Python installation carries about 1.5 MB of carefully written English prose about code,
so the corpus needs no download. It is built deterministically:

1. The ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` are taken in the order of their
   sorted relative paths, skipping every directory in :data:`SKIPPED_DIRS` (tests, third-party
   packages, IDLE, the turtle demos, codec tables, bundled wheels) and files named ``test_*.py``.
2. Each file is parsed with :mod:`ast` (files that fail to parse are skipped) and the module,
   class and function docstrings are read with ``ast.get_docstring`` in source order.
3. Each docstring is normalised: tabs become 4 spaces, trailing spaces are stripped from every
   line, runs of blank lines shrink to one. Docstrings holding any character other than
   printable ASCII and newline are dropped whole (a handful, e.g. with accented names), and so
   are exact repeats of a docstring seen earlier.
4. The docstrings are joined with a blank line between them, stopping before the first one that
   would take the text past :data:`MAX_CHARS` characters (about 1 MB).

The result depends on the Python version, so :attr:`Corpus.checksum` (the SHA-256 of the
text) tells a reader which corpus their Python produced. Building takes one to two seconds;
the text is cached in memory and on disk under ``$COMPANION_CACHE_DIR`` (default
``$XDG_CACHE_HOME/companion`` or ``~/.cache/companion``), keyed by the Python version and
:data:`BUILDER_VERSION`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import os
import platform
import re
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

import numpy as np

from companion.core.checks import as_index_array, as_rng, positive_int

BUILDER_VERSION = 1
MAX_CHARS = 1_000_000
TRAIN_FRACTION = 0.9
SKIPPED_DIRS = frozenset({
    "test", "tests", "idle_test", "site-packages", "dist-packages", "idlelib", "turtledemo",
    "lib2to3", "ensurepip", "pydoc_data", "encodings", "lib-dynload", "__pycache__",
    "__phello__",
})
SEPARATOR = "\n\n"
CACHE_ENV = "COMPANION_CACHE_DIR"

_PRINTABLE = re.compile(r"[ -~\n]*")  # printable ASCII (space to tilde) and newline
_BLANK_RUNS = re.compile(r"\n{3,}")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")  # fields holding statements


# -- building ------------------------------------------------------------------------------------
def _source_files(root: Path) -> list[Path]:
    """The ``.py`` files under ``root`` that feed the corpus, sorted by relative path."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("config-")]
        found.extend(Path(directory, f) for f in files
                     if f.endswith(".py") and not f.startswith("test_"))
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def _docstrings(tree: ast.AST):
    """Yield the module, class and function docstrings of ``tree`` in source order.

    Definitions are statements, so only statement blocks are walked, never expressions.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, _DOCUMENTED):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc
        children = []
        for field in _BLOCKS:
            block = getattr(node, field, None)
            if isinstance(block, list):
                children.extend(block)
        stack.extend(reversed(children))  # pre-order, in source order


def _normalise(doc: str) -> str | None:
    """Tabs to spaces, no trailing spaces, single blank lines; ``None`` if not printable ASCII."""
    lines = [line.rstrip() for line in doc.expandtabs(4).split("\n")]
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
    if not text or _PRINTABLE.fullmatch(text) is None:
        return None
    return text


def build_stdlib_text(max_chars: int = MAX_CHARS) -> str:
    """Build the corpus text from the standard library's docstrings, without any cache.

    Args:
        max_chars: upper bound on the length of the text; whole docstrings are kept.

    Returns:
        The text: printable ASCII and newlines, at most ``max_chars`` characters.
    """
    max_chars = positive_int(max_chars, "max_chars")
    root = Path(sysconfig.get_paths()["stdlib"])
    pieces, seen, size = [], set(), 0
    for path in _source_files(root):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. invalid escape sequences in old files
                tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        for doc in _docstrings(tree):
            text = _normalise(doc)
            if text is None or text in seen:
                continue
            added = len(text) + (len(SEPARATOR) if pieces else 0)
            if size + added > max_chars:
                return SEPARATOR.join(pieces)
            seen.add(text)
            pieces.append(text)
            size += added
    return SEPARATOR.join(pieces)


# -- caching -------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The directory of the on-disk cache: ``$COMPANION_CACHE_DIR``, else the user cache."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "companion"


def _cache_path() -> Path:
    python = f"{sys.implementation.name}-{platform.python_version()}"
    return cache_dir() / f"stdlib-docstrings-{python}-v{BUILDER_VERSION}.txt"


@functools.lru_cache(maxsize=1)
def _stdlib_text() -> str:
    """The full corpus text: from memory, else from the disk cache, else built (and saved)."""
    path = _cache_path()
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        pass
    text = build_stdlib_text()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file, then rename: a reader never sees half a file.
        with tempfile.NamedTemporaryFile("w", encoding="ascii", dir=path.parent,
                                         suffix=".tmp", delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only home only costs a rebuild next time
    return text


# -- the corpus ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class Corpus:
    """A text with its character vocabulary, encoders and a fixed 90/10 train/val split.

    Attributes:
        text: the whole text.
        vocab: the distinct characters of ``text``, sorted; token ``i`` is ``vocab[i]``.
        stoi: character -> token id.
        itos: token id -> character.
        train: int64 array ``(L_train,)``, the first 90 % of the encoded text.
        val: int64 array ``(L_val,)``, the last 10 %.
        checksum: SHA-256 hex digest of ``text`` (UTF-8), naming the corpus.
    """

    text: str
    vocab: tuple[str, ...] = dataclasses.field(init=False)
    stoi: dict[str, int] = dataclasses.field(init=False, repr=False)
    itos: dict[int, str] = dataclasses.field(init=False, repr=False)
    train: np.ndarray = dataclasses.field(init=False, repr=False)
    val: np.ndarray = dataclasses.field(init=False, repr=False)
    checksum: str = dataclasses.field(init=False)

    def __post_init__(self):
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str, got {type(self.text).__name__}")
        if len(self.text) < 2:
            raise ValueError(f"text must hold at least 2 characters, got {len(self.text)}")
        vocab = tuple(sorted(set(self.text)))
        set_ = functools.partial(object.__setattr__, self)  # the dataclass is frozen
        set_("vocab", vocab)
        set_("stoi", {ch: i for i, ch in enumerate(vocab)})
        set_("itos", dict(enumerate(vocab)))
        set_("_codepoints", np.array([ord(ch) for ch in vocab], dtype=np.int64))  # (V,)
        ids = self.encode(self.text)
        cut = int(TRAIN_FRACTION * len(ids))
        set_("train", ids[:cut])
        set_("val", ids[cut:])
        self.train.flags.writeable = False
        self.val.flags.writeable = False
        set_("checksum", hashlib.sha256(self.text.encode("utf-8")).hexdigest())

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters, ``V``."""
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """Return the token ids of ``text``, an int64 array ``(L,)``; unknown characters raise."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.searchsorted(self._codepoints, points)  # (L,) vocab is sorted by code point
        known = self._codepoints[np.minimum(ids, self.vocab_size - 1)] == points
        if not known.all():
            unknown = sorted(set(np.asarray(list(text))[~known].tolist()))
            raise ValueError(f"text must only hold characters of the vocabulary, got "
                             f"unknown characters {unknown[:10]!r}")
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """Return the text of a 1-D sequence of token ids ``(L,)``; ids outside ``[0, V)`` raise."""
        ids = np.asarray(ids)
        if ids.size == 0:
            ids = ids.astype(np.int64)  # np.asarray([]) is float64
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        if ids.ndim != 1:
            raise ValueError(f"ids must have 1 dimension (L,), got shape {ids.shape}")
        return "".join(np.asarray(self.vocab)[ids].tolist())

    def batch(self, split: str, batch_size: int, block_size: int,
              rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw random windows of the split for next-character prediction.

        ``y[b, t] = x[b, t + 1]``: the target at each position is the character that follows.

        Args:
            split: ``"train"`` or ``"val"``.
            batch_size: number of windows ``B``.
            block_size: window length ``T``; must be smaller than the split's length.
            rng: ``None``, an int seed or a ``numpy.random.Generator`` choosing the starts.

        Returns:
            x: int64 array ``(B, T)``; y: int64 array ``(B, T)``.
        """
        if split not in ("train", "val"):
            raise ValueError(f"split must be one of 'train', 'val', got {split!r}")
        batch_size = positive_int(batch_size, "batch_size")
        block_size = positive_int(block_size, "block_size")
        data = self.train if split == "train" else self.val
        if block_size >= len(data):
            raise ValueError(f"block_size must be smaller than the {split} split's length "
                             f"{len(data)}, got {block_size}")
        starts = as_rng(rng).integers(0, len(data) - block_size, size=batch_size)  # (B,)
        index = starts[:, None] + np.arange(block_size)  # (B, T)
        return data[index], data[index + 1]


def load_corpus(max_chars: int | None = None) -> Corpus:
    """Return the standard-library docstring corpus, optionally cut to its first characters.

    Args:
        max_chars: keep only the first ``max_chars`` characters (``None`` for all of them,
            about 1 MB); the vocabulary and split are those of the shortened text.

    Returns:
        A :class:`Corpus`; its ``checksum`` names the text your Python produced.
    """
    text = _stdlib_text()
    if max_chars is not None:
        text = text[:positive_int(max_chars, "max_chars")]
    return Corpus(text)
