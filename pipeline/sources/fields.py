"""The field helpers every source adapter is built from: reading a (dotted) field with the shared
checks, making a Document, per-record rejects, ids unique within a file.

The adapters differ only in which fields they read and how they join them; the checks are shared so
every source reports a missing or mistyped field the same way:
``missing_field: <f>`` / ``wrong_type: <f> is <type>, expected <type>`` with `field` set, and
JSON null counts as missing (the Hub's JSON builder fills absent keys with None, and a local file and
the same file read through the Hub must agree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import LONG_TEXT_CHARS, Document, Reject
from pipeline.sources.records import RawRecord, raw_text

__all__ = [
    "MISSING",
    "FieldError",
    "type_name",
    "get_path",
    "require_str",
    "optional_str",
    "default_id",
    "own_id",
    "malformed",
    "make_doc",
    "keep_orig_id",
    "per_record",
    "IdPicker",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FieldError(Exception):
    """A field that is missing or of the wrong type; becomes one malformed reject."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def get_path(value: Any, path: str) -> Any:
    """`a.b.c` into nested objects; a key that itself contains dots is found first. MISSING when
    any step is absent (or not an object); JSON null is returned as None."""
    if not isinstance(value, dict):
        return MISSING
    if path in value:
        return value[path]
    cur = value
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def require_str(value: Any, path: str) -> str:
    v = get_path(value, path)
    if v is MISSING or v is None:
        raise FieldError(path, f"missing_field: {path}")
    if not isinstance(v, str):
        raise FieldError(path, f"wrong_type: {path} is {type_name(v)}, expected str")
    return v


def optional_str(value: Any, path: str) -> str | None:
    """A field that may be absent or null, but must be a string when present."""
    v = get_path(value, path)
    if v is MISSING or v is None:
        return None
    if not isinstance(v, str):
        raise FieldError(path, f"wrong_type: {path} is {type_name(v)}, expected str")
    return v


def optional_dict(value: Any, path: str) -> dict[str, Any] | None:
    v = get_path(value, path)
    if v is MISSING or v is None:
        return None
    if not isinstance(v, dict):
        raise FieldError(path, f"wrong_type: {path} is {type_name(v)}, expected dict")
    return v


def scalar_id(value: Any) -> str | None:
    """An id field as a string (ints are common: WuDao, Wikipedia); None when absent or empty."""
    if value is MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        s = str(value)
        return s or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def default_id(rec: RawRecord, src: SourceConfig) -> str:
    """`<source>/<file stem>/<record index>` (design.md: never a content hash)."""
    return f"{src.name}/{rec.stem}/{rec.record}"


def own_id(src: SourceConfig, value: str) -> str:
    return f"{src.name}/{value}"


def malformed(
    rec: RawRecord,
    src: SourceConfig,
    detail: str,
    field: str | None = None,
    *,
    id: str | None = None,
    subset: str | None = None,
    meta: dict[str, Any] | None = None,
    text: str | None = None,
) -> Reject:
    return Reject(
        stage="read",
        drop_reason="malformed",
        source=src.name,
        drop_value=detail,
        field=field,
        id=id if id is not None else default_id(rec, src),
        subset=subset,
        file=rec.file,
        line=rec.line,
        record=rec.record,
        raw=raw_text(rec.raw),
        text=text,
        meta=meta,
    )


def field_reject(rec: RawRecord, src: SourceConfig, err: FieldError, **kw: Any) -> Reject:
    return malformed(rec, src, err.detail, err.field, **kw)


def make_doc(
    rec: RawRecord,
    src: SourceConfig,
    text: str,
    *,
    id: str | None = None,
    lang: str | None = None,
    subset: str | None = None,
    meta: dict[str, Any] | None = None,
    messages: list[dict[str, str]] | None = None,
    record: int | None = None,
) -> Document:
    """A document with the record's provenance; the repair count goes into meta (design.md)."""
    meta = meta if meta is not None else {}
    if rec.repaired:
        meta["utf8_repaired"] = rec.repaired
    return Document(
        id=id if id is not None else default_id(rec, src),
        text=text,
        source=src.name,
        subset=subset,
        lang=lang,
        meta=meta,
        messages=messages,
        file=rec.file,
        line=rec.line,
        record=rec.record if record is None else record,
    )


def join_paragraphs(parts: Iterable[str]) -> str:
    """Text fields joined by a blank line; empty parts add no stray blank lines."""
    return "\n\n".join(p for p in parts if p)


def keep_orig_id(meta: dict[str, Any], value: Any) -> str | None:
    """The record's own id (`scalar_id` of `value`) into `meta["orig_id"]` when present; returned
    (None when absent or empty) for adapters that also make it the document id."""
    oid = scalar_id(value)
    if oid is not None:
        meta["orig_id"] = oid
    return oid


#: One record -> its document; raises FieldError for a missing or mistyped field.
Build = Callable[[RawRecord, SourceConfig], Document]


def per_record(
    records: Iterable[RawRecord | Reject],
    src: SourceConfig,
    build: Build,
    *,
    reject_subset: Callable[[RawRecord], str | None] | None = None,
) -> Iterator[Document | Reject]:
    """The one-record-one-document loop: rejects from the reader pass through, `build` makes each
    document, and a FieldError it raises becomes one malformed reject with the subset
    `reject_subset(rec)` (default: the configured subset)."""
    for rec in records:
        if isinstance(rec, Reject):
            yield rec
            continue
        try:
            doc = build(rec, src)
        except FieldError as e:
            yield field_reject(rec, src, e, subset=reject_subset(rec) if reject_subset else src.subset)
            continue
        if len(doc.text) > LONG_TEXT_CHARS:
            # the parsed record holds the original text too: once the tag step replaces the
            # document's text with the normalized one, nothing may keep the original alive
            rec.value = None
        del rec
        yield doc


class IdPicker:
    """Own ids that stay unique within one input file, checked cheaply as records stream by.

    The ids of one file are remembered as 64-bit hashes, not the strings (~70 bytes per record in a
    Python set: 70 MB per million records), which is enough because ids only have to be unique
    within the file: the file stem in
    `<source>/<stem>/<id>` keeps files apart (two splits that both number from 0 do not collide).
    A repeated own id, or a record without one, gets the line-based default id; a default id that an
    earlier own id already took gets `#<n>` appended. So no two documents of a file share an id,
    whatever the data, and the first occurrence of an id keeps it."""

    def __init__(self) -> None:
        import xxhash

        self._hash = xxhash.xxh3_64_intdigest
        self._seen: set[int] = set()

    def _claim(self, doc_id: str) -> bool:
        h = self._hash(doc_id.encode())
        if h in self._seen:
            return False
        self._seen.add(h)
        return True

    def pick(self, rec: RawRecord, src: SourceConfig, own: str | None) -> str:
        if own is not None:
            doc_id = f"{src.name}/{rec.stem}/{own}"
            if self._claim(doc_id):
                return doc_id
        doc_id = default_id(rec, src)
        n = 0
        candidate = doc_id
        while not self._claim(candidate):
            n += 1
            candidate = f"{doc_id}#{n}"
        return candidate
