"""Chinese corpus presets (WuDao, CLUECorpus, zh Wikipedia, chinese-poetry) and two format presets
used for Chinese samples (SQuAD-style reading comprehension, alpaca instructions).

The four corpus presets default lang to "zh" when neither the record nor the config says otherwise;
`squad` and `alpaca` are formats used for every language (SQuAD is English, cmrc2018 Chinese), so
they take only the configured lang and otherwise leave it to language identification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.generic import (
    MISSING,
    FieldError,
    field_reject,
    get_path,
    keep_orig_id,
    make_doc,
    optional_str,
    own_id,
    per_record,
    require_str,
    scalar_id,
    type_name,
)
from pipeline.sources.reader import RawRecord

__all__ = ["iter_wudao", "iter_clue", "iter_zhwiki", "iter_chinese_poetry", "iter_squad", "iter_alpaca"]


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


def _squad_nested(rec: RawRecord, src: SourceConfig, state: dict[str, Any]) -> Iterator[Document | Reject]:
    """`{data: [{title?, paragraphs: [{id?, context, qas}]}]}`: one document per distinct context.
    A context repeated in the file is merged into its first document (`paragraph_ids`,
    `n_questions` cover every copy), so no paragraph is lost and none is emitted twice."""
    data = rec.value.get("data")
    if data is None:
        yield field_reject(rec, src, FieldError("data", "missing_field: data"), subset=src.subset)
        return
    if not isinstance(data, list):
        yield field_reject(rec, src, FieldError("data", f"wrong_type: data is {type_name(data)}, expected list"), subset=src.subset)
        return
    groups: dict[str, dict[str, Any]] = {}
    bad: list[Reject] = []
    index = state.get("paragraphs", 0)
    for a, article in enumerate(data):
        if not isinstance(article, dict):
            bad.append(field_reject(rec, src, FieldError("data", f"wrong_type: data[{a}] is {type_name(article)}, expected dict"), subset=src.subset, id=f"{src.name}/{rec.stem}/data[{a}]"))
            continue
        title = article.get("title") if isinstance(article.get("title"), str) else None
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            detail = "missing_field: paragraphs" if paragraphs is None else f"wrong_type: paragraphs is {type_name(paragraphs)}, expected list"
            bad.append(field_reject(rec, src, FieldError("paragraphs", detail), subset=src.subset, id=f"{src.name}/{rec.stem}/data[{a}]"))
            continue
        for para in paragraphs:
            i = index
            index += 1
            pid = scalar_id(para.get("id")) if isinstance(para, dict) else None
            try:
                if not isinstance(para, dict):
                    raise FieldError("paragraphs", f"wrong_type: paragraphs[] is {type_name(para)}, expected dict")
                context = require_str(para, "context")
            except FieldError as e:
                bad.append(field_reject(rec, src, e, subset=src.subset, id=own_id(src, pid) if pid else f"{src.name}/{rec.stem}/{i}"))
                continue
            qas = para.get("qas")
            n_q = len(qas) if isinstance(qas, list) else 0
            g = groups.get(context)
            if g is None:
                groups[context] = {"index": i, "pid": pid, "title": title, "n_questions": n_q, "ids": [pid] if pid else []}
            else:
                g["n_questions"] += n_q
                if pid:
                    g["ids"].append(pid)
    state["paragraphs"] = index
    yield from bad
    for context, g in groups.items():
        meta: dict[str, Any] = {"n_questions": g["n_questions"]}
        if g["title"] is not None:
            meta["title"] = g["title"]
        if g["pid"]:
            meta["orig_id"] = g["pid"]
        if len(g["ids"]) > 1:
            meta["paragraph_ids"] = g["ids"]
        doc_id = own_id(src, g["pid"]) if g["pid"] else f"{src.name}/{rec.stem}/{g['index']}"
        yield make_doc(rec, src, context, id=doc_id, lang=src.lang, subset=src.subset, meta=meta, record=g["index"])


def iter_squad(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """SQuAD-style data, each context once. Two shapes: the nested file (cmrc2018_dev.json, one
    record) and the flat table of the Hub (one row per question with its context: consecutive rows
    with the same context make one document; a context that comes back later, not adjacent, is a
    `duplicate_context` reject pointing at the document that already holds it)."""
    state: dict[str, Any] = {}
    pending: dict[str, Any] | None = None
    seen: dict[bytes, str] = {}

    def flush() -> Iterator[Document]:
        nonlocal pending
        if pending is not None:
            p = pending
            pending = None
            meta: dict[str, Any] = {"n_questions": p["n"]}
            if p["title"] is not None:
                meta["title"] = p["title"]
            yield make_doc(p["rec"], src, p["context"], id=p["id"], lang=src.lang, subset=src.subset, meta=meta)

    for rec in records:
        if isinstance(rec, Reject):
            yield rec
            continue
        v = rec.value
        if "context" not in v:
            yield from flush()
            yield from _squad_nested(rec, src, state)
            continue
        try:
            context = require_str(v, "context")
            title = optional_str(v, "title")
        except FieldError as e:
            yield field_reject(rec, src, e, subset=src.subset)
            continue
        if pending is not None and pending["context"] == context and pending["file"] == rec.file:
            pending["n"] += 1
            continue
        yield from flush()
        key = hashlib.blake2b(context.encode("utf-8"), digest_size=16).digest()
        if key in seen:
            yield Reject(
                stage="read",
                drop_reason="duplicate_context",
                source=src.name,
                drop_value=seen[key],
                id=f"{src.name}/{rec.stem}/{rec.record}",
                subset=src.subset,
                file=rec.file,
                line=rec.line,
                record=rec.record,
                text=context,
            )
            continue
        doc_id = f"{src.name}/{rec.stem}/{rec.record}"
        seen[key] = doc_id
        pending = {"rec": rec, "context": context, "title": title, "n": 1, "id": doc_id, "file": rec.file}
    yield from flush()


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
