"""Chinese corpus presets (WuDao, CLUECorpus, zh Wikipedia, chinese-poetry).

They default lang to "zh" when neither the record nor the config says otherwise (the format presets
used for Chinese samples, `squad` and `alpaca`, have modules of their own: they serve every language).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    MISSING,
    FieldError,
    get_path,
    keep_orig_id,
    make_doc,
    optional_str,
    own_id,
    per_record,
    require_str,
    type_name,
)
from pipeline.sources.records import RawRecord

__all__ = ["iter_wudao", "iter_clue", "iter_zhwiki", "iter_chinese_poetry"]


def _zh(src: SourceConfig) -> str:
    return src.lang or "zh"


def iter_wudao(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """WuDaoCorpora `{id, uniqueKey, titleUkey, dataType, title, content}`: text = title, blank line,
    content. WuDao ids restart in every file, so the document id is the default one and the record's
    id stays in meta as `orig_id`."""
    yield from per_record(records, src, _wudao_doc)


def _wudao_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    content = require_str(v, "content")
    title = optional_str(v, "title")
    meta: dict[str, Any] = {}
    keep_orig_id(meta, v.get("id"))
    if title:
        meta["title"] = title
    for key in ("uniqueKey", "titleUkey", "dataType"):
        if v.get(key) is not None:
            meta[key] = v[key]
    text = f"{title}\n\n{content}" if title else content
    return make_doc(rec, src, text, lang=_zh(src), subset=src.subset, meta=meta)


def iter_clue(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """CLUECorpus2020: plain text, one sentence per line, documents separated by blank lines; the
    reader's txt units (`txt_unit: paragraph`, the default) already make one record per document."""
    yield from per_record(records, src, _clue_doc)


def _clue_doc(rec: RawRecord, src: SourceConfig) -> Document:
    return make_doc(rec, src, require_str(rec.value, "text"), lang=_zh(src), subset=src.subset)


def iter_zhwiki(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """wikimedia/wikipedia `{id, url, title, text}`: own id `<source>/<page id>`; title and url in
    meta (the text does not repeat the title; it is kept as published)."""
    yield from per_record(records, src, _zhwiki_doc)


def _zhwiki_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    text = require_str(v, "text")
    title = optional_str(v, "title")
    url = optional_str(v, "url")
    meta: dict[str, Any] = {}
    oid = keep_orig_id(meta, v.get("id"))
    if title is not None:
        meta["title"] = title
    if url is not None:
        meta["url"] = url
    return make_doc(rec, src, text, id=own_id(src, oid) if oid else None, lang=_zh(src), subset=src.subset, meta=meta)


def _str_list(v: Any, path: str) -> list[str]:
    lines = get_path(v, path)
    if lines is MISSING or lines is None:
        raise FieldError(path, f"missing_field: {path}")
    if not isinstance(lines, list):
        raise FieldError(path, f"wrong_type: {path} is {type_name(lines)}, expected list[str]")
    for i, x in enumerate(lines):
        if not isinstance(x, str):
            raise FieldError(path, f"wrong_type: {path}[{i}] is {type_name(x)}, expected str")
    return lines


def iter_chinese_poetry(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """chinese-poetry `{author, paragraphs[], title | rhythmic, id?}`: text = the title (or the ci
    tune name, `rhythmic`) on the first line, then one line per paragraph. Some collections (诗经)
    name the lines `content`; they read the same."""
    yield from per_record(records, src, _poetry_doc)


def _poetry_doc(rec: RawRecord, src: SourceConfig) -> Document:
    v = rec.value
    key = "paragraphs" if "paragraphs" in v or "content" not in v else "content"
    lines = _str_list(v, key)
    title = optional_str(v, "title")
    rhythmic = optional_str(v, "rhythmic")
    author = optional_str(v, "author")
    heading = title or rhythmic
    body = "\n".join(lines)
    text = f"{heading}\n{body}" if heading else body
    meta: dict[str, Any] = {}
    if author is not None:
        meta["author"] = author
    if title is not None:
        meta["title"] = title
    if rhythmic is not None:
        meta["rhythmic"] = rhythmic
    oid = keep_orig_id(meta, v.get("id"))
    return make_doc(rec, src, text, id=own_id(src, oid) if oid else None, lang=_zh(src), subset=src.subset, meta=meta)
