"""The generic adapter: any record shape to documents through a `FieldMap` (config `fields`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.config import FieldMap, SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    MISSING,
    IdPicker,
    get_path,
    join_paragraphs,
    keep_orig_id,
    make_doc,
    optional_str,
    own_id,
    per_record,
    require_str,
)
from pipeline.sources.records import RawRecord

#: Scalar types copied into meta by default (nested objects and lists need `fields.meta` paths).
_SCALARS = (str, int, float, bool)


def iter_generic(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """Any record shape, through `src.fields` (default: `text`). Every text field is required;
    title, id, lang and meta fields are optional.

    Ids: with `fields.id` set, `<source>/<id>` (the source promises uniqueness, checked run-wide).
    Unset, a top-level field named `id` is used as `<source>/<file stem>/<id>` while it is unique
    within the file (`IdPicker`); either way the raw value is kept as `orig_id` in meta.
    Meta: the `fields.meta` paths, or (none given) every other top-level scalar field, so a record's
    url, title and timestamp are not thrown away."""
    fm = src.fields or FieldMap()
    text_fields = [fm.text] if isinstance(fm.text, str) else list(fm.text)
    auto_id = fm.id is None and fm.auto_id
    picker = IdPicker() if auto_id else None
    used = {*text_fields, *(f for f in (fm.title, fm.lang, fm.id) if f)}
    if auto_id:
        used.add("id")

    def build(rec: RawRecord, src: SourceConfig) -> Document:
        v = rec.value
        parts = [require_str(v, f) for f in text_fields]
        title = optional_str(v, fm.title) if fm.title else None
        lang = optional_str(v, fm.lang) if fm.lang else None
        meta: dict[str, Any] = {}
        doc_id: str | None = None
        if fm.id:
            oid = keep_orig_id(meta, get_path(v, fm.id))
            doc_id = own_id(src, oid) if oid else None
        elif picker is not None:
            doc_id = picker.pick(rec, src, keep_orig_id(meta, v.get("id")))
        if title:
            meta["title"] = title
        if fm.meta:
            for path in fm.meta:
                mv = get_path(v, path)
                if mv is not MISSING:
                    meta[path] = mv
        else:
            for key, mv in v.items():
                if key not in used and key not in meta and isinstance(mv, _SCALARS):
                    meta[key] = mv
        text = join_paragraphs([title or "", *parts]) if title else (parts[0] if len(parts) == 1 else join_paragraphs(parts))
        return make_doc(rec, src, text, id=doc_id, lang=lang or src.lang, subset=src.subset, meta=meta)

    yield from per_record(records, src, build)
