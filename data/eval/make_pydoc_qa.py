"""Writes data/eval/pydoc_qa.jsonl: a small English QA eval set from the docstrings of Python's
standard library (Python Software Foundation License 2.0; see data/samples/SOURCES.md).

Why: no English benchmark ships with curate and nothing may be downloaded, yet decontamination
must be measured on real English text. Each item is a question about one documented function, its
answer (the docstring's first paragraph) and a context (the docstring, first 1,200 characters).
Run with the Python the file was made with (3.11) to get the same bytes.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import orjson

MODULES = ["json", "os.path", "shutil", "textwrap", "functools", "itertools", "collections", "statistics",
           "difflib", "string", "csv", "gzip", "zipfile", "tarfile", "heapq", "bisect", "random", "datetime",
           "urllib.parse", "base64", "hashlib", "pathlib", "re", "glob", "fnmatch", "subprocess", "tempfile"]


def items() -> list[dict[str, str]]:
    out = []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for name, obj in sorted(vars(mod).items()):
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != mod.__name__:
                continue
            doc = inspect.getdoc(obj) or ""
            first = re.sub(r"\s+", " ", doc.split("\n\n")[0]).strip()
            if len(first.split()) < 12:
                continue
            out.append({
                "id": f"{mod_name}.{name}",
                "question": f"In Python's {mod_name} module, what does {name} do?",
                "answer": first,
                "context": re.sub(r"[ \t]+", " ", doc)[:1200],
            })
    return out


if __name__ == "__main__":
    dest = Path(__file__).with_name("pydoc_qa.jsonl")
    rows = items()
    dest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    print(f"wrote {dest}: {len(rows)} items (Python {sys.version.split()[0]})")
