"""Stack Exchange data dumps (`Posts.xml` of one site, CC BY-SA): one document per question and per
answer, HTML bodies converted to text (pipeline.html_text: code blocks kept as ``` fences).

The reader streams the `<row .../>` elements (tabular.read_xml); this adapter turns their attributes
into documents:

* question (PostTypeId 1): text = title + blank line + body; meta: post_id, post_type, title, tags,
  score, answer_count, accepted_answer_id, creation_date, content_license;
* answer (PostTypeId 2): text = its question's title + blank line + body (an answer alone often
  makes no sense); meta: post_id, post_type, parent_id, title, score, is_accepted, creation_date,
  content_license, and the question's tags;
* every other post type (tag wikis 4/5, moderator nominations 6, wiki placeholders 7, privilege
  wikis 8, orphaned tag wikis 3): a read reject `post_type` naming the type, so `in == kept +
  rejected` still holds and the report shows what was skipped.

Order: dumps list posts by Id, so an answer normally comes after its question. Migrated and merged
posts break that, so an answer whose question has not been seen yet waits (in memory) until the
question arrives, and is emitted right after it; answers whose question never comes (a partial dump)
are emitted at the end of the file without a title, with `question_missing: true`. The titles of
the file's questions are kept in memory (about 100 bytes each: ~1 GB for 10 M questions; split
Stack Overflow-sized dumps by year). Ids are `<source>/<file stem>/<post Id>` (several sites in one
source: their stems are their folders, as RedPajama-V2's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.html_text import html_to_text
from pipeline.sources.fields import (
    FieldError,
    field_reject,
    make_doc,
    malformed,
    require_str,
)
from pipeline.sources.records import RawRecord

__all__ = ["iter_stackexchange", "parse_tags"]

_POST_TYPES = {
    "3": "orphaned tag wiki",
    "4": "tag wiki excerpt",
    "5": "tag wiki",
    "6": "moderator nomination",
    "7": "wiki placeholder",
    "8": "privilege wiki",
}


def parse_tags(value: str | None) -> list[str]:
    """`<python><pandas>` (dumps before 2024) or `|python|pandas|` (since) -> ["python", "pandas"]."""
    if not value:
        return []
    if value.startswith("<"):
        return [t for t in value[1:-1].split("><") if t]
    return [t for t in value.strip("|").split("|") if t]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(slots=True)
class _Question:
    title: str
    tags: list[str]
    accepted: str | None


@dataclass(slots=True)
class _Site:
    """Per-file state: question titles by Id, answers waiting for their question."""

    questions: dict[str, _Question] = field(default_factory=dict)
    waiting: dict[str, list[RawRecord]] = field(default_factory=dict)


def _doc_id(rec: RawRecord, src: SourceConfig, post_id: str) -> str:
    return f"{src.name}/{rec.stem}/{post_id}"


def _common_meta(v: dict[str, Any], post_id: str, kind: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"post_id": post_id, "post_type": kind}
    score = _int(v.get("Score"))
    if score is not None:
        meta["score"] = score
    for attr, key in (("CreationDate", "creation_date"), ("ContentLicense", "content_license")):
        if v.get(attr):
            meta[key] = v[attr]
    return meta


def _question(rec: RawRecord, src: SourceConfig, site: _Site) -> Document:
    v = rec.value
    post_id = require_str(v, "Id")
    title = require_str(v, "Title").strip()
    body = html_to_text(require_str(v, "Body"))
    tags = parse_tags(v.get("Tags"))
    accepted = v.get("AcceptedAnswerId") or None
    site.questions[post_id] = _Question(title, tags, accepted)
    meta = _common_meta(v, post_id, "question")
    meta["title"] = title
    meta["tags"] = tags
    answers = _int(v.get("AnswerCount"))
    if answers is not None:
        meta["answer_count"] = answers
    if accepted:
        meta["accepted_answer_id"] = accepted
    text = f"{title}\n\n{body}" if title else body
    return make_doc(rec, src, text, id=_doc_id(rec, src, post_id), lang=src.lang, subset=src.subset, meta=meta)


def _answer(rec: RawRecord, src: SourceConfig, question: _Question | None) -> Document:
    v = rec.value
    post_id = require_str(v, "Id")
    parent = require_str(v, "ParentId")
    body = html_to_text(require_str(v, "Body"))
    meta = _common_meta(v, post_id, "answer")
    meta["parent_id"] = parent
    if question is None:
        meta["question_missing"] = True
        text = body
    else:
        meta["title"] = question.title
        meta["tags"] = question.tags
        meta["is_accepted"] = question.accepted == post_id
        text = f"{question.title}\n\n{body}" if question.title else body
    return make_doc(rec, src, text, id=_doc_id(rec, src, post_id), lang=src.lang, subset=src.subset, meta=meta)


def _build(rec: RawRecord, src: SourceConfig, make: Any) -> Document | Reject:
    try:
        return make()  # type: ignore[no-any-return]
    except FieldError as e:
        return field_reject(rec, src, e, subset=src.subset)


def iter_stackexchange(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    """Documents of one Posts.xml (see the module docstring for order, titles and rejects)."""
    site = _Site()
    stem = None
    for rec in records:
        if isinstance(rec, Reject):
            yield rec
            continue
        if stem is not None and rec.stem != stem:  # a new file: its posts are a new site
            yield from _flush(site, src)
            site = _Site()
        stem = rec.stem
        v = rec.value
        kind = v.get("PostTypeId")
        if kind == "1":
            doc = _build(rec, src, lambda: _question(rec, src, site))
            yield doc
            post_id = v.get("Id")
            if isinstance(doc, Document) and post_id in site.waiting:
                q = site.questions[post_id]
                for ans in site.waiting.pop(post_id):
                    yield _build(ans, src, lambda a=ans: _answer(a, src, q))
        elif kind == "2":
            parent = v.get("ParentId")
            if parent and parent not in site.questions:
                site.waiting.setdefault(parent, []).append(rec)
                continue
            yield _build(rec, src, lambda: _answer(rec, src, site.questions.get(parent or "")))
        elif kind in _POST_TYPES:
            yield Reject(
                stage="read",
                drop_reason="post_type",
                source=src.name,
                drop_value=f"PostTypeId {kind} ({_POST_TYPES[kind]})",
                id=_doc_id(rec, src, v.get("Id") or str(rec.record)),
                subset=src.subset,
                file=rec.file,
                line=rec.line,
                record=rec.record,
            )
        elif kind is None:
            yield malformed(rec, src, "missing_field: PostTypeId", "PostTypeId")
        else:
            yield malformed(rec, src, f"wrong_value: PostTypeId {kind!r} is not a Stack Exchange post type", "PostTypeId")
    yield from _flush(site, src)


def _flush(site: _Site, src: SourceConfig) -> Iterator[Document | Reject]:
    """Answers whose question never came, in file order."""
    waiting = sorted((a for group in site.waiting.values() for a in group), key=lambda a: a.record)
    site.waiting.clear()
    for ans in waiting:
        yield _build(ans, src, lambda a=ans: _answer(a, src, None))
