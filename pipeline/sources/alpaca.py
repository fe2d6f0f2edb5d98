"""Alpaca-style instructions (`instruction`, `input`, `output`; alpaca-zh, BELLE, ...): one document
per record.

A format used for every language: it takes only the configured lang and otherwise leaves it to
language identification.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    make_doc,
    optional_str,
    per_record,
    require_str,
)
from pipeline.sources.records import RawRecord

__all__ = ["iter_alpaca"]


def iter_alpaca(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """alpaca `{instruction, input, output}`: text = instruction [+ blank line + input] + blank line
    + output, and the same as a two-turn chat in `messages`. LLaMA-Factory's optional `system` and
    `history` fields are kept in meta."""
    yield from per_record(records, src, _alpaca_doc)


def _alpaca_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    instruction = require_str(v, "instruction")
    inp = optional_str(v, "input") or ""
    output = require_str(v, "output")
    prompt = f"{instruction}\n\n{inp}" if inp else instruction
    text = f"{prompt}\n\n{output}"
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    meta: dict[str, Any] = {}
    for key in ("system", "history"):
        if v.get(key):
            meta[key] = v[key]
    return make_doc(rec, src, text, lang=src.lang, subset=src.subset, meta=meta, messages=messages)
