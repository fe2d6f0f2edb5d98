"""Dolma (CCNet-style) records -> documents: `id`, `text`, `source`, `added`, `created`,
`metadata{language, ...}`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    get_path,
    keep_orig_id,
    make_doc,
    optional_dict,
    own_id,
    per_record,
    require_str,
)
from pipeline.sources.records import RawRecord
from pipeline.sources.redpajama import lang_code

__all__ = ["iter_dolma"]


def iter_dolma(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """Dolma: own id; meta = metadata + added/created/source; subset = configured subset, else the
    record's `source`."""
    yield from per_record(records, src, _dolma_doc)


def _dolma_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    text = require_str(v, "text")
    metadata = optional_dict(v, "metadata") or {}
    meta = dict(metadata)
    for key in ("added", "created", "source"):
        if v.get(key) is not None:
            meta[key] = v[key]
    oid = keep_orig_id(meta, get_path(v, "id"))
    lang = lang_code(metadata.get("language")) or src.lang
    source_field = v.get("source")
    subset = src.subset or (source_field if isinstance(source_field, str) and source_field else None)
    return make_doc(rec, src, text, id=own_id(src, oid) if oid else None, lang=lang, subset=subset, meta=meta)
