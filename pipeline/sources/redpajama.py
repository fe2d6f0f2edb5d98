"""RedPajama-Data-1T and RedPajama-V2 records -> documents.

RedPajama-1T: `{"text", "meta"}` with meta a dict or a JSON string (the published files use both);
the subset comes from the `red_pajama_subset` field (added by the old Hub loading script), the
configured subset, or the file's path (`.../arxiv/arxiv_*.jsonl`, `c4-train.*`, `book.jsonl`).
RedPajama-V2: `raw_content`, `meta` (JSON string), `doc_id`; the raw `documents/*.json.gz` files
carry the meta fields at the top level instead, which reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    FieldError,
    keep_orig_id,
    make_doc,
    own_id,
    per_record,
    require_str,
    type_name,
)
from pipeline.sources.records import RawRecord

__all__ = ["SUBSETS", "subset_from_path", "lang_code", "iter_redpajama", "iter_redpajama_v2"]

SUBSETS = ("arxiv", "book", "c4", "common_crawl", "github", "stackexchange", "wikipedia")
_NAME_RE = re.compile(r"^(common_crawl|stackexchange|wikipedia|github|arxiv|book|c4)(?![A-Za-z0-9])")
#: A natural-language code (en, zh, de-CH): github meta "language" is a list of programming languages.
_LANG_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def subset_from_path(path: str) -> str | None:
    """The RedPajama subset named by a file-name prefix or a folder, nearest first."""
    parts = [p for p in path.replace("\\", "/").split("?", 1)[0].split("/") if p]
    if not parts:
        return None
    m = _NAME_RE.match(parts[-1])
    if m:
        return m.group(1)
    for part in reversed(parts[:-1]):
        if part in SUBSETS:
            return part
    return None


def lang_code(value: Any) -> str | None:
    return value if isinstance(value, str) and _LANG_RE.match(value) else None


def _parse_meta(value: Any, field: str = "meta") -> dict[str, Any]:
    """meta as a dict: given as one, as a JSON string of one, or absent/null (empty)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as e:
            raise FieldError(field, f"invalid_json: {e}") from None
        if not isinstance(parsed, dict):
            raise FieldError(field, f"wrong_type: {field} is JSON {type_name(parsed)}, expected dict")
        return parsed
    raise FieldError(field, f"wrong_type: {field} is {type_name(value)}, expected dict or JSON string")


def iter_redpajama(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """RedPajama-Data-1T. lang: meta["language"] (wikipedia) if it is a language code, else the
    configured lang, else "en"."""
    path_subset: dict[str, str | None] = {}

    def subset_of(rec: RawRecord) -> str | None:
        """`red_pajama_subset`, else the configured subset, else the file's path (cached per file)."""
        subset = rec.value.get("red_pajama_subset")
        if not isinstance(subset, str) or not subset:
            subset = src.subset
        if subset is None:
            if rec.file not in path_subset:
                path_subset[rec.file] = subset_from_path(rec.file)
            subset = path_subset[rec.file]
        return subset

    def build(rec: RawRecord, src: SourceConfig) -> Document:
        v = rec.value
        subset = subset_of(rec)
        text = require_str(v, "text")
        meta = _parse_meta(v.get("meta"))
        lang = lang_code(meta.get("language")) or src.lang or "en"
        return make_doc(rec, src, text, lang=lang, subset=subset, meta=meta)

    yield from per_record(records, src, build, reject_subset=subset_of)


def iter_redpajama_v2(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """RedPajama-V2: own id from `doc_id`; quality signals are not kept (they are recomputed
    by our own taggers, and would multiply the meta column's size)."""
    yield from per_record(records, src, _redpajama_v2_doc)


def _redpajama_v2_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    text = require_str(v, "raw_content")
    if "meta" in v:
        meta = _parse_meta(v["meta"])
    else:  # raw documents/*.json.gz: the meta fields sit at the top level
        meta = {k: x for k, x in v.items() if k not in ("raw_content", "quality_signals", "doc_id")}
    oid = keep_orig_id(meta, v.get("doc_id"))
    lang = lang_code(meta.get("language")) or src.lang or "en"
    subset = src.subset or (meta.get("partition") if isinstance(meta.get("partition"), str) else None)
    return make_doc(rec, src, text, id=own_id(src, oid) if oid else None, lang=lang, subset=subset, meta=meta)
