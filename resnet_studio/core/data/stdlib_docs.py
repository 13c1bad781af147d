"""`stdlib-docs`: an offline text-classification set made from Python's own docstrings.

Each example is the docstring of one public function, class or method of the standard library;
its label is the area the module belongs to (mathematics, text, files, time, networking, data
formats, concurrency, containers), chosen by module, never by reading the text. So the task is
honest: "which part of the standard library does this documentation describe?". The texts
ship with every Python, so the set needs no network and no download.

Which docstrings exist depends on the Python version (3.10 to 3.13 differ by a few per cent),
so sizes are counted from the running interpreter. A docstring that appears in two areas
(inherited, re-exported) is dropped from both: the label must follow from the text.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import replace
from functools import lru_cache

import numpy as np

from .base import BYTE_VOCAB_SIZE, DEFAULT_TEXT_LENGTH, Dataset, DatasetInfo
from .tokenizers import fit_tokenizer

NAME = "stdlib-docs"

# Area -> modules. Only modules that import quickly and without side effects on every
# platform (no GUI toolkits, no `antigravity`), each with many documented public names.
AREAS: dict[str, tuple[str, ...]] = {
    "math": ("math", "cmath", "statistics", "fractions", "decimal", "random"),
    "text": ("re", "string", "textwrap", "difflib", "unicodedata"),
    "files": ("os", "posixpath", "shutil", "pathlib", "glob", "fnmatch", "tempfile", "filecmp"),
    "time": ("datetime", "time", "calendar", "zoneinfo"),
    "network": ("socket", "ssl", "http.client", "http.server", "urllib.request",
                "urllib.parse", "smtplib", "ftplib"),
    "formats": ("json", "pickle", "csv", "configparser", "xml.etree.ElementTree", "base64",
                "struct", "zipfile", "tarfile"),
    "concurrency": ("threading", "multiprocessing", "asyncio", "concurrent.futures", "queue",
                    "subprocess", "signal"),
    "containers": ("collections", "itertools", "functools", "heapq", "bisect", "array",
                   "operator", "copy"),
}
CLASS_NAMES = tuple(AREAS)
# Shorter docstrings ("Return self+value.") say nothing about their area.
MIN_CHARS = 40


def _documented(module_name: str) -> list[tuple[str, str]]:
    """(qualified name, docstring) of the module's public callables and their methods."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # e.g. ssl on a Python built without OpenSSL: that area is smaller.
        return []
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n[:1] == "_"]
    out = []
    for name in sorted(set(names)):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        members = [(f"{module_name}.{name}", obj)]
        if inspect.isclass(obj):
            members += [(f"{module_name}.{name}.{k}", v) for k, v in sorted(vars(obj).items())
                        if not k.startswith("_") and callable(v)]
        for qualname, member in members:
            # __doc__ itself, not inspect.getdoc: getdoc inherits a parent's docstring.
            doc = getattr(member, "__doc__", None)
            if (inspect.isroutine(member) or inspect.isclass(member)) and isinstance(doc, str):
                doc = inspect.cleandoc(doc)
                if len(doc) >= MIN_CHARS:
                    out.append((qualname, doc))
    return out


@lru_cache(maxsize=1)
def corpus() -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """Returns `(texts, labels, names)`, ordered by qualified name (deterministic).

    Example:

    >>> texts, labels, names = corpus()
    >>> len(texts) == len(labels) == len(names) > 1000
    True
    """
    areas_of: dict[str, set[int]] = {}
    first_name: dict[str, str] = {}
    for label, modules in enumerate(AREAS.values()):
        for module_name in modules:
            for qualname, doc in _documented(module_name):
                areas_of.setdefault(doc, set()).add(label)
                first_name.setdefault(doc, qualname)
    kept = sorted((first_name[doc], doc, next(iter(labels)))
                  for doc, labels in areas_of.items() if len(labels) == 1)
    return (tuple(doc for _, doc, _ in kept), tuple(label for _, _, label in kept),
            tuple(name for name, _, _ in kept))


def sizes(validation_fraction: float) -> dict[str, int]:
    """Examples per split, as `load` makes them (needs the corpus: ~0.2 s of imports)."""
    from .splits import TEST_FRACTION, held_out

    n = len(corpus()[0])
    n_test = held_out(n, TEST_FRACTION)
    n_val = held_out(n - n_test, validation_fraction)
    return {"train": n - n_test - n_val, "validation": n_val, "test": n_test}


def describe(validation_fraction: float, sequence_length: int | None) -> DatasetInfo:
    """Metadata; the vocabulary size is the byte tokenizer's (WordPiece is fitted at load)."""
    return DatasetInfo(
        name=NAME,
        task="classification",
        input_kind="tokens",
        input_shape=(sequence_length or DEFAULT_TEXT_LENGTH,),
        num_classes=len(CLASS_NAMES),
        vocab_size=BYTE_VOCAB_SIZE,
        class_names=CLASS_NAMES,
        sizes=sizes(validation_fraction),
        offline=True,
        description=(
            "Text classification, offline: docstrings of Python's standard library labelled "
            "by the area their module belongs to (math, text, files, time, network, formats, "
            "concurrency, containers). Made from the running Python; no download."
        ),
    )


def load(seed: int, validation_fraction: float, sequence_length: int | None,
         limit: int | None, tokenizer: str | None = None, vocab_size: int = 0) -> Dataset:
    """Stratified, seeded 80/20 train/test split (as `digits`), then validation from train.

    The tokenizer is fitted on the training texts only (before `limit`, so a quick look sees
    the same vocabulary as the full run).
    """
    from .splits import TEST_FRACTION, in_memory, stratified_split

    texts, labels, _ = corpus()
    index = np.arange(len(texts))
    y = np.asarray(labels, dtype=np.int64)
    i_rest, y_rest, i_test, y_test = stratified_split(index, y, TEST_FRACTION, seed)
    i_train, y_train, i_val, y_val = stratified_split(i_rest, y_rest, validation_fraction, seed)
    fitted = fit_tokenizer(tokenizer, [texts[i] for i in i_train], vocab_size)
    length = sequence_length or DEFAULT_TEXT_LENGTH

    def encode(ids: np.ndarray) -> np.ndarray:
        return fitted.encode([texts[i] for i in ids], length)

    info = replace(describe(validation_fraction, sequence_length), vocab_size=fitted.vocab_size)
    splits = {"train": (encode(i_train), y_train), "validation": (encode(i_val), y_val),
              "test": (encode(i_test), y_test)}
    data = in_memory(info, splits, limit)
    data.tokenizer = fitted
    data.texts = {"train": [texts[i] for i in i_train[: len(data.y_train)]],
                  "validation": [texts[i] for i in i_val[: len(data.y_val)]],
                  "test": [texts[i] for i in i_test[: len(data.y_test)]]}
    return data
