"""OpenAssistant oasst1 -> documents, per thread, per message, or per best-ranked path.

Three input shapes, detected per record:

* the flat message table (Hub `OpenAssistant/oasst1` Parquet): one record per message with
  `message_tree_id` and `parent_id`. Trees are rebuilt by buffering the messages of one input file
  (the Hub's table is not guaranteed to keep a tree's rows together); oasst1 has ~88k messages, so
  the buffer stays in the tens of MB. Trees are processed in order of first appearance when the
  file ends.
* the nested export: each line a root message with `replies` (en_100_message.jsonl);
* the tree export: `{message_tree_id, tree_state, prompt{... replies ...}}` (en_100_tree.jsonl).

Accounting: every message is either a reject (`deleted`, `review_failed`, `parent_rejected`,
`malformed`) or part of at least one document (thread, message); in `top_path` mode the surviving
messages off the path are neither, and are counted in the path document's
`meta["messages_not_on_path"]`. A nested record whose structure is broken is one `malformed` reject.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.fields import FieldError, field_reject, type_name
from pipeline.sources.records import RawRecord, raw_text

__all__ = ["iter_oasst", "ROLE_LABEL", "ROLE_CHAT"]

ROLE_LABEL = {"prompter": "User", "assistant": "Assistant"}
ROLE_CHAT = {"prompter": "user", "assistant": "assistant"}


@dataclass(slots=True, eq=False)
class _Msg:
    id: str
    parent: str | None
    text: str
    role: str
    lang: str | None
    deleted: bool
    review: bool | None
    rank: int | None
    synthetic: bool | None
    rec: RawRecord
    repaired: int = 0
    children: list[_Msg] = field(default_factory=list)
    # outcome
    reason: str | None = None  # drop reason, None = survives
    value: str | None = None
    bad_field: str | None = None
    raw: bytes | str | None = None  # the input line of a malformed flat row


def _rank(v: Any) -> int | None:
    """oasst1's Parquet stores rank as float64 (NaN for none); the JSON exports as int or null."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() else None
    return None


def _opt_bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _parse_msg(m: Any, rec: RawRecord, parent: str | None) -> _Msg:
    """Validates one message; FieldError names the field (its location goes to the reject's meta)."""
    if not isinstance(m, dict):
        raise FieldError("message", f"wrong_type: message is {type_name(m)}, expected dict")
    mid = m.get("message_id")
    if mid is None:
        raise FieldError("message_id", "missing_field: message_id")
    if not isinstance(mid, str) or not mid:
        raise FieldError("message_id", f"wrong_type: message_id is {type_name(mid)}, expected str")
    text = m.get("text")
    if text is None:
        raise FieldError("text", "missing_field: text")
    if not isinstance(text, str):
        raise FieldError("text", f"wrong_type: text is {type_name(text)}, expected str")
    role = m.get("role")
    if role is None:
        raise FieldError("role", "missing_field: role")
    if role not in ROLE_LABEL:
        raise FieldError("role", f"wrong_type: role is {role!r}, expected 'prompter' or 'assistant'")
    lang = m.get("lang")
    return _Msg(
        id=mid,
        parent=parent,
        text=text,
        role=role,
        lang=lang if isinstance(lang, str) and lang else None,
        deleted=m.get("deleted") is True,
        review=_opt_bool(m.get("review_result")),
        rank=_rank(m.get("rank")),
        synthetic=_opt_bool(m.get("synthetic")),
        rec=rec,
    )


class _BadTree(Exception):
    def __init__(self, err: FieldError, where: str, message_id: str | None) -> None:
        super().__init__(err.detail)
        self.err = err
        self.where = where
        self.message_id = message_id


def _flatten(root: Any, rec: RawRecord, where: str) -> list[_Msg]:
    """A nested message with `replies` -> its messages in depth-first order, parents from nesting."""
    out: list[_Msg] = []
    stack: list[tuple[Any, str | None, str]] = [(root, None, where)]
    while stack:
        m, parent, loc = stack.pop()
        try:
            msg = _parse_msg(m, rec, parent)
        except FieldError as e:
            mid = m.get("message_id") if isinstance(m, dict) else None
            raise _BadTree(e, loc, mid if isinstance(mid, str) else None) from None
        replies = m.get("replies")
        if replies is None:
            replies = []
        if not isinstance(replies, list):
            raise _BadTree(FieldError("replies", f"wrong_type: replies is {type_name(replies)}, expected list"), loc, msg.id)
        out.append(msg)
        for i in range(len(replies) - 1, -1, -1):
            stack.append((replies[i], msg.id, f"{loc}.replies[{i}]"))
    return out


class _Unit:
    """Turns one message tree into rejects and documents for the configured unit."""

    def __init__(self, src: SourceConfig) -> None:
        self.src = src
        self.unit = src.unit

    # -- rejects ---------------------------------------------------------------------------------
    def reject(self, m: _Msg, tree_id: str) -> Reject:
        return Reject(
            stage="read",
            drop_reason=m.reason or "malformed",
            source=self.src.name,
            drop_value=m.value,
            field=m.bad_field,
            id=m.id,
            subset=self.unit,
            file=m.rec.file,
            line=m.rec.line,
            record=m.rec.record,
            raw=raw_text(m.raw) if m.reason == "malformed" else None,
            text=m.text,
            meta={"message_tree_id": tree_id, "parent_id": m.parent, "role": m.role},
        )

    # -- the tree ----------------------------------------------------------------------------------
    def tree(self, tree_id: str, msgs: list[_Msg], extra_meta: dict[str, Any] | None = None) -> Iterator[Document | Reject]:
        """Statuses over the whole tree, then its rejects (depth-first order), then its documents."""
        by_id: dict[str, _Msg] = {}
        unique: list[_Msg] = []
        rejects: list[Reject] = []
        for m in msgs:
            if m.id in by_id:
                m.reason, m.value, m.bad_field = "malformed", f"duplicate_id: {m.id}", "message_id"
                rejects.append(self.reject(m, tree_id))
                continue
            by_id[m.id] = m
            unique.append(m)
        roots: list[_Msg] = []
        for m in unique:
            if m.parent is None:
                roots.append(m)
            elif m.parent in by_id:
                by_id[m.parent].children.append(m)
            else:
                m.reason, m.value, m.bad_field = "malformed", f"missing_parent: {m.parent}", "parent_id"
        # one root per tree: the message the tree is named after, else the first one
        root = next((r for r in roots if r.id == tree_id), roots[0] if roots else None)
        for r in roots:
            if r is not root:
                r.reason, r.value, r.bad_field = "malformed", f"extra_root: tree {tree_id} has root {root.id if root else None}", "parent_id"

        order: list[_Msg] = []  # depth-first, every reachable message once
        # rejected subtrees hang off malformed messages (orphans, extra roots) as well as the root
        starts = ([root] if root else []) + [m for m in unique if m.reason == "malformed"]
        visited: set[int] = set()
        for start in starts:
            if id(start) in visited:
                continue
            stack: list[tuple[_Msg, str | None]] = [(start, None)]
            while stack:
                m, bad_anc = stack.pop()
                if id(m) in visited:
                    continue
                visited.add(id(m))
                order.append(m)
                if bad_anc is not None:
                    m.reason, m.value, m.bad_field = "parent_rejected", bad_anc, None
                elif m.reason == "malformed":
                    pass
                elif m.deleted:
                    m.reason, m.value = "deleted", "deleted=true"
                elif m.review is False:
                    m.reason, m.value = "review_failed", "review_result=false"
                anc = bad_anc if bad_anc is not None else (m.id if m.reason else None)
                for c in reversed(m.children):
                    stack.append((c, anc))
        for m in unique:  # only cycles are left unvisited
            if id(m) not in visited:
                m.reason, m.value, m.bad_field = "malformed", f"parent_cycle: {m.parent}", "parent_id"
                order.append(m)
        rejects.extend(self.reject(m, tree_id) for m in order if m.reason)
        yield from rejects
        if root is None or root.reason:
            return
        meta0 = dict(extra_meta or {})
        if self.unit == "message":
            yield from self._messages(tree_id, root, order, meta0)
        elif self.unit == "top_path":
            yield self._top_path(tree_id, root, sum(1 for m in order if not m.reason), meta0)
        else:
            yield from self._threads(tree_id, root, meta0)

    # -- units -----------------------------------------------------------------------------------
    def _path_doc(self, doc_id: str, tree_id: str, path: list[_Msg], at: _Msg, meta0: dict[str, Any]) -> Document:
        meta: dict[str, Any] = {
            "message_tree_id": tree_id,
            "orig_id": doc_id,
            "message_ids": [m.id for m in path],
            "turns": len(path),
            "ranks": [m.rank for m in path],
            "synthetic": [m.synthetic for m in path],
            **meta0,
        }
        repaired = sum(m.repaired for m in path)
        if repaired:
            meta["utf8_repaired"] = repaired
        return Document(
            id=doc_id,
            text="\n\n".join(f"{ROLE_LABEL[m.role]}: {m.text}" for m in path),
            source=self.src.name,
            subset=self.unit,
            lang=path[0].lang or self.src.lang,
            meta=meta,
            messages=[{"role": ROLE_CHAT[m.role], "content": m.text} for m in path],
            file=at.rec.file,
            line=at.rec.line,
            record=at.rec.record,
        )

    def _threads(self, tree_id: str, root: _Msg, meta0: dict[str, Any]) -> Iterator[Document]:
        """One document per root-to-leaf path over surviving messages, leaves in depth-first order."""
        stack: list[tuple[_Msg, list[_Msg]]] = [(root, [root])]
        while stack:
            m, path = stack.pop()
            alive = [c for c in m.children if not c.reason]
            if not alive:
                yield self._path_doc(m.id, tree_id, path, m, meta0)
                continue
            for c in reversed(alive):
                stack.append((c, [*path, c]))

    def _top_path(self, tree_id: str, root: _Msg, n_alive: int, meta0: dict[str, Any]) -> Document:
        """From the root, the surviving child with the best rank (lowest; unranked after ranked;
        ties by message_id) down to a leaf; id = the tree id."""
        path = [root]
        m = root
        while True:
            alive = [c for c in m.children if not c.reason]
            if not alive:
                break
            m = min(alive, key=lambda c: (c.rank is None, c.rank if c.rank is not None else 0, c.id))
            path.append(m)
        doc = self._path_doc(tree_id, tree_id, path, root, meta0)
        doc.meta["messages_not_on_path"] = n_alive - len(path)
        return doc

    def _messages(self, tree_id: str, root: _Msg, order: list[_Msg], meta0: dict[str, Any]) -> Iterator[Document]:
        for m in order:
            if m.reason:
                continue
            meta: dict[str, Any] = {
                "message_tree_id": tree_id,
                "orig_id": m.id,
                "parent_id": m.parent,
                "role": m.role,
                "rank": m.rank,
                "synthetic": m.synthetic,
                **meta0,
            }
            if m.repaired:
                meta["utf8_repaired"] = m.repaired
            yield Document(
                id=m.id,
                text=m.text,
                source=self.src.name,
                subset="message",
                lang=m.lang or root.lang or self.src.lang,
                meta=meta,
                messages=None,
                file=m.rec.file,
                line=m.rec.line,
                record=m.rec.record,
            )


def iter_oasst(records: Iterable[RawRecord | Reject], src: SourceConfig) -> Iterator[Document | Reject]:
    unit = _Unit(src)
    flat: dict[str, list[_Msg]] = {}
    flat_state: dict[str, Any] = {}
    flat_file: str | None = None

    def flush() -> Iterator[Document | Reject]:
        for tree_id, msgs in flat.items():
            extra = {"tree_state": flat_state[tree_id]} if flat_state.get(tree_id) else None
            yield from unit.tree(tree_id, msgs, extra)
        flat.clear()
        flat_state.clear()

    for rec in records:
        if isinstance(rec, Reject):
            yield rec
            continue
        v = rec.value
        if flat and rec.file != flat_file:
            yield from flush()
        if "prompt" in v or "replies" in v or ("message_tree_id" not in v and v.get("parent_id") is None and "message_id" in v):
            yield from _nested(rec, src, unit)
            continue
        # a row of the flat message table
        tree_id = v.get("message_tree_id")
        if not isinstance(tree_id, str) or not tree_id:
            detail = "missing_field: message_tree_id" if tree_id is None else f"wrong_type: message_tree_id is {type_name(tree_id)}, expected str"
            mid = v.get("message_id")
            yield field_reject(rec, src, FieldError("message_tree_id", detail), subset=src.unit, id=mid if isinstance(mid, str) else None)
            continue
        parent = v.get("parent_id")
        try:
            if parent is not None and not isinstance(parent, str):
                raise FieldError("parent_id", f"wrong_type: parent_id is {type_name(parent)}, expected str")
            msg = _parse_msg(v, rec, parent or None)
        except FieldError as e:
            mid = v.get("message_id")
            if not isinstance(mid, str) or not mid:
                yield field_reject(rec, src, e, subset=src.unit, meta={"message_tree_id": tree_id})
                continue
            # keep it in its tree as a rejected message, so its replies become parent_rejected
            text = v.get("text")
            msg = _Msg(mid, parent if isinstance(parent, str) else None, text if isinstance(text, str) else "", str(v.get("role")), None, False, None, None, None, rec)
            msg.reason, msg.value, msg.bad_field = "malformed", e.detail, e.field
            msg.raw = rec.raw
        msg.repaired = rec.repaired
        # buffered until the file ends: keep the provenance, drop the parsed row and raw line
        msg.rec = RawRecord(None, rec.file, rec.line, rec.record, None, rec.repaired, rec.stem)
        flat_file = rec.file
        flat.setdefault(tree_id, []).append(msg)
        if isinstance(v.get("tree_state"), str):
            flat_state.setdefault(tree_id, v["tree_state"])
    yield from flush()


def _nested(rec: RawRecord, src: SourceConfig, unit: _Unit) -> Iterator[Document | Reject]:
    """A tree export record (`prompt`) or a nested root message (`replies`)."""
    v = rec.value
    extra: dict[str, Any] = {}
    if "prompt" in v:
        root, where = v.get("prompt"), "prompt"
        if root is None:
            yield field_reject(rec, src, FieldError("prompt", "missing_field: prompt"), subset=src.unit)
            return
        if isinstance(v.get("tree_state"), str):
            extra["tree_state"] = v["tree_state"]
    else:
        root, where = v, "message"
    try:
        msgs = _flatten(root, rec, where)
    except _BadTree as bt:
        tid = v.get("message_tree_id") or (root.get("message_id") if isinstance(root, dict) else None)
        meta = {"message_tree_id": tid if isinstance(tid, str) else None, "path": bt.where, "message_id": bt.message_id}
        yield field_reject(rec, src, bt.err, subset=src.unit, id=tid if isinstance(tid, str) else None, meta=meta)
        return
    tree_id = v.get("message_tree_id")
    if not isinstance(tree_id, str) or not tree_id:
        tree_id = msgs[0].id  # in oasst the tree is named after its root message
    if rec.repaired:
        # one line, many messages: attribute the repairs by the U+FFFD each message now holds
        for m in msgs:
            m.repaired = m.text.count("\ufffd")
    yield from unit.tree(tree_id, msgs, extra or None)
