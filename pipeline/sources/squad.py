"""SQuAD-style reading comprehension (SQuAD v1/v2, cmrc2018, DRCD): one document per paragraph with
its questions and answers, nested files and flattened rows alike.

A format used for every language (SQuAD is English, cmrc2018 Chinese): it takes only the configured
lang and otherwise leaves it to language identification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import (
    FieldError,
    field_reject,
    make_doc,
    optional_str,
    own_id,
    require_str,
    scalar_id,
    type_name,
)
from pipeline.sources.records import RawRecord

__all__ = ["iter_squad"]


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
