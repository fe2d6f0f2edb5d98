"""The per-shard tagging pass: read -> normalize -> tag -> staged shard + rejects + stats.

Everything expensive happens here once per document, and is stored as columns so `select` (and a
later `curate refilter`) only compares columns against thresholds. Normalization (stored text +
change trace) happens here; the taggers are the list in pipeline/taggers.py: language (fastText +
script rules, script shares, zh variant), PII (counts; redaction of the stored text), BPE token
counts, exact keys, quality signals, decontamination overlap, MinHash signature.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from filters.c4_lines import c4_line_filter
from filters.quality import QUALITY_FIELDS
from pipeline import __version__
from pipeline.config import RunConfig, SourceConfig
from pipeline.document import LONG_TEXT_CHARS, Document, Reject, dumps_meta, rejects_to_table
from pipeline.html_text import html_to_text, looks_like_html
from pipeline.layout import Layout, as_layout
from pipeline.normalize import normalize_text
from pipeline.outcome import detail, malformed_warning
from pipeline.shards import RotatingWriter, staging_output, write_table_atomic
from pipeline.sources import InputShard, input_fingerprint, iter_shard
from pipeline.stats import RunStats
from pipeline import taggers
from pipeline.dedup.sidecar import sidecar_path, write_sidecar
from pipeline.taggers import TagBatch, language_tagger, staged_schema, tagger_configs

__all__ = ["TagResult", "language_tagger", "tag_key", "tag_shard", "load_done", "read_marker"]

#: Documents per tagging batch (tokenizer call, Arrow conversion); bounded in characters as well.
BATCH_DOCS = 2048
BATCH_CHARS = 16 * 1024 * 1024

Progress = Callable[[int, int], None]  # (documents, bytes) since the last call


@dataclass
class TagResult:
    """What a tag task hands on: paths and stats, never documents (tasks may run on other machines)."""

    shard: str
    source: str
    staged: list[str]  # relative to the staging root
    rejects: dict[str, str]  # stage -> path relative to the staging root
    stats: RunStats
    key: str
    skipped: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "shard": self.shard,
                "source": self.source,
                "staged": self.staged,
                "rejects": self.rejects,
                "stats": self.stats.to_dict(),
                "key": self.key,
                "inputs": self.inputs,
            },
            option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, blob: bytes) -> TagResult:
        d = orjson.loads(blob)
        return cls(
            shard=d["shard"],
            source=d["source"],
            staged=d["staged"],
            rejects=d["rejects"],
            stats=RunStats.from_dict(d["stats"]),
            key=d["key"],
            inputs=d["inputs"],
        )


def tag_key(shard: InputShard | str, src: SourceConfig, cfg: RunConfig, fingerprint: dict[str, Any] | None = None) -> str:
    """Resume key of a tag task: only what tagging depends on, so re-tuning `select` keeps the tags.
    `fingerprint`: the input's, when known (refilter passes the staged one: the input may be gone),
    and then `shard` may be just the shard's name."""
    if fingerprint is None:
        assert isinstance(shard, InputShard)
        fingerprint = input_fingerprint(shard, src)
    name = shard if isinstance(shard, str) else shard.name
    blob = orjson.dumps(
        {
            "source": src.model_dump(mode="json"),
            "normalize": cfg.normalize.model_dump(mode="json"),
            # what each tagger's output depends on (language, tokens, PII redaction, eval sets,
            # MinHash settings, ...): pipeline/taggers.py
            "taggers": tagger_configs(cfg),
            # staged files depend on the sizes only (their codec is fixed: shards.staging_output)
            "output": cfg.output.model_dump(mode="json", include={"shard_size_mb", "row_group_mb"}),
            "input": _key_fingerprint(fingerprint),
            "shard": name,
            "version": __version__,
            # the staged q_* columns: a release that adds a signal re-tags instead of missing a column
            "signals": [f.name for f in QUALITY_FIELDS],
            # keys and NFC depend on the Python build's Unicode tables
            "unicode": unicodedata.unidata_version,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(blob).hexdigest()


def _key_fingerprint(fp: dict[str, Any]) -> dict[str, Any]:
    """What of a fingerprint decides a re-tag: not the Hub commit (a new commit that leaves a file
    alone keeps its blob id, so its tags stay valid), only the file's own identity."""
    drop = ("commit", "location") if fp.get("kind") == "hub" else ()  # a Hub location names the commit
    return {k: v for k, v in fp.items() if k not in drop}


def read_marker(lay: Layout, shard_name: str) -> TagResult | None:
    """The staged result of a shard (None: none, or unreadable)."""
    path = lay.tagged_marker(shard_name)
    if not lay.stage.exists(path):
        return None
    try:
        return TagResult.from_json(lay.stage.read_bytes(path))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def load_done(out: Layout | str | Path, shard: InputShard | str, key: str) -> TagResult | None:
    """The earlier result of this shard if it finished with the same key and its files exist."""
    lay = as_layout(out)
    res = read_marker(lay, shard if isinstance(shard, str) else shard.name)
    if res is None:
        return None
    files = [lay.staged(p) for p in res.staged] + [lay.staged(p) for p in res.rejects.values()]
    if res.key != key or not all(lay.stage.exists(f) for f in files):
        return None
    res.skipped = True
    return res


class _Batch:
    """Column buffers of one tagging batch: every tagger sees the whole batch in one call."""

    def __init__(self) -> None:
        self.docs: list[Document] = []
        self.changes: list[list[str]] = []
        self.n_chars = 0

    def add(self, doc: Document, changes: list[str]) -> None:
        self.docs.append(doc)
        self.changes.append(changes)
        self.n_chars += len(doc.text)

    def full(self) -> bool:
        return len(self.docs) >= BATCH_DOCS or self.n_chars >= BATCH_CHARS

    def to_table(self, cfg: RunConfig, schema: pa.Schema, stats: RunStats) -> pa.Table:
        """Every registered tagger (pipeline/taggers.py) over the batch, in order, then the columns
        no tagger computes (identity, provenance, the normalization trace)."""
        docs = self.docs
        batch = TagBatch(docs=docs, texts=[d.text for d in docs], changes=self.changes, cfg=cfg, stats=stats)
        for tagger in taggers.TAGGERS:  # read at call time: the list is the registry
            batch.cols.update(tagger.tag(batch))
            _drop_utf8_caches(batch)
        cols: dict[str, Any] = {
            "id": [d.id for d in docs],
            "text": batch.texts,
            "source": [d.source for d in docs],
            "subset": [d.subset for d in docs],
            "meta": [dumps_meta(d.meta) for d in docs],
            "messages": [d.messages for d in docs],
            "file": [d.file for d in docs],
            "line": [d.line for d in docs],
            "record": [d.record for d in docs],
            "lang_hint": [d.lang for d in docs],
            "dedup_group": [_dedup_group(d) for d in docs],
            "norm_changes": batch.changes,
        }
        cols.update(batch.cols)
        table = pa.table({name: cols[name] for name in schema.names}, schema=schema)
        for d in docs:
            if len(d.text) > LONG_TEXT_CHARS:
                # the table holds the text now (as UTF-8): the str (up to 4 bytes a character, plus
                # the UTF-8 copy tokenizer and Arrow conversion cache in it) is not kept while the
                # table is written
                d.text = ""
        return table


#: Characters copied per step when a long text is rebuilt without its UTF-8 cache.
_COPY_STEP = 1 << 20


def _utf8_cached(text: str) -> bool:
    """Whether a non-ASCII str carries CPython's cached UTF-8 form (made by the first C extension
    that asked for it, e.g. tiktoken; as large as the text's UTF-8, and kept as long as the str):
    its size is then at least len(text) bytes above that of a plain str of the same kind."""
    top = max(text)
    kind = 1 if top <= "\xff" else 2 if top <= "\uffff" else 4
    return sys.getsizeof(text) > sys.getsizeof(top) + (len(text) - 1) * kind + len(text) // 2


def _drop_utf8_caches(batch: TagBatch) -> None:
    """Long texts that picked up a UTF-8 cache are replaced by an equal str without one, built by
    in-place appends (one copy at a time, never two): for a 60 MB document the cache is 60 MB that
    every later tagger (quality signals, MinHash) would otherwise run on top of. Only texts that
    nothing else holds are replaced, or the copy would add to the memory instead."""
    texts, docs = batch.texts, batch.docs
    for i in range(len(texts)):  # not enumerate: its cached (i, text) pair would keep the old str
        text = texts[i]
        if len(text) <= LONG_TEXT_CHARS or text.isascii() or not _utf8_cached(text):
            continue
        own = i < len(docs) and docs[i].text is text
        # holders: the list, the document (own), `text` and getrefcount's argument
        if sys.getrefcount(text) > 3 + own:
            continue
        first = min(_COPY_STEP, len(text) - 1)  # a slice of the whole str would be the str itself
        fresh = text[:first]
        for a in range(first, len(text), _COPY_STEP):
            fresh += text[a : a + _COPY_STEP]  # extended in place: only this frame holds it
        texts[i] = fresh
        if own:
            docs[i].text = fresh
        del text, fresh


def _dedup_group(doc: Document) -> str | None:
    """Documents of one conversation tree share prefixes by construction (oasst threads): they form
    a group whose members are not duplicates of each other (DedupConfig.exempt_same_tree)."""
    tree = doc.meta.get("message_tree_id") if doc.meta else None
    return f"{doc.source}/{tree}" if isinstance(tree, str) else None


def tag_shard(
    shard: InputShard,
    src: SourceConfig,
    cfg: RunConfig,
    out: Layout | str | Path,
    progress: Progress | None = None,
) -> TagResult:
    """Tags one input shard; skipped (result loaded) when its output exists for the same key."""
    lay = as_layout(out)
    fingerprint = input_fingerprint(shard, src)
    key = tag_key(shard, src, cfg, fingerprint)
    done = load_done(lay, shard, key)
    if done is not None:
        return done

    stats = RunStats()
    # an earlier marker must not vouch for the files this run is about to overwrite (a kill between
    # the parts and the new marker would otherwise leave an old key over new content), and word
    # counts cached by select belong to the old staged texts
    lay.stage.rm(lay.tagged_marker(shard.name))
    lay.stage.rm(lay.words_cache(shard.name))
    rejects: dict[str, list[Reject]] = {"read": [], "normalize": []}
    schema = staged_schema(cfg)
    writer = RotatingWriter(lay.tagged_prefix(shard.name), schema, staging_output(cfg.output), lay.stage)
    batch = _Batch()
    norm = cfg.normalize
    try:
        for item in iter_shard(shard, src, norm.invalid_utf8):
            if isinstance(item, Reject):
                rejects[item.stage].append(item)
                n = len(item.text.encode("utf-8")) if item.text else 0
                stats.stage(item.stage, item.source).reject(item.drop_reason, n)
                if progress:
                    progress(1, n)
                continue
            raw_bytes = len(item.text.encode("utf-8"))
            stats.stage("read", item.source).keep(raw_bytes)
            if progress:
                progress(1, raw_bytes)
            text = item.text
            stripped = src.html == "strip" and looks_like_html(text)
            if stripped:  # opt-in: HTML to text before normalizing (pipeline/html_text.py)
                text = html_to_text(text)
            text, changes = normalize_text(
                text, casing=src.casing, fullwidth_alnum=norm.fullwidth_alnum, whitespace=src.whitespace
            )
            names = ["html_stripped", *changes.names()] if stripped else changes.names()
            if src.c4_line_filter:
                text, removed = c4_line_filter(text)
                if removed:
                    names = [*names, "c4_lines_removed"]
                    stats.normalize[(item.source, "c4_lines_removed_total")] += removed
            for name in names:
                stats.normalize[(item.source, name)] += 1
            if len(text) < norm.min_chars:
                reason = "empty" if not text else "too_short"
                rejects["normalize"].append(
                    Reject(
                        stage="normalize",
                        drop_reason=reason,
                        drop_value=str(len(text)),
                        source=item.source,
                        id=item.id,
                        subset=item.subset,
                        file=item.file,
                        line=item.line,
                        record=item.record,
                        text=item.text,
                        meta=item.meta,
                    )
                )
                stats.stage("normalize", item.source).reject(reason, raw_bytes)
                continue
            item.text = text
            del text  # the Document is the text's only holder (to_table releases long ones)
            if item.messages:
                item.messages = [
                    {
                        "role": m["role"],
                        "content": normalize_text(
                            m["content"],
                            casing=src.casing,
                            fullwidth_alnum=norm.fullwidth_alnum,
                            whitespace=src.whitespace,
                        )[0],
                    }
                    for m in item.messages
                ]
            if item.lang is None:
                item.lang = src.lang
            batch.add(item, names)
            if batch.full():
                writer.write(batch.to_table(cfg, schema, stats))
                batch = _Batch()
        if batch.docs:
            writer.write(batch.to_table(cfg, schema, stats))
        staged = writer.close()
    except BaseException:
        writer.abort()
        raise
    if cfg.dedup.enabled:
        # band keys and exact keys already in fine buckets, signatures as a flat matrix: the cluster
        # step's partition tasks read these instead of a global ingest pass (pipeline/dedup/sidecar.py)
        for path in staged:
            write_sidecar(lay.stage, path, lay.stage, sidecar_path(path), cfg.dedup)

    read = stats.stages.get(("read", src.name))
    details = Counter(detail(r.drop_reason, r.drop_value) for r in rejects["read"])
    if read is not None and (warning := malformed_warning(shard.location, read, cfg.checks.warn_malformed_share, details)):
        logging.getLogger("curate").warning(warning)
    reject_paths: dict[str, str] = {}
    for stage, items in rejects.items():
        path = lay.staged_rejects(stage, shard.name)
        write_table_atomic(rejects_to_table(items), path, staging_output(cfg.output), lay.stage)
        reject_paths[stage] = lay.staged_rel(path)
    result = TagResult(
        shard=shard.name,
        source=src.name,
        staged=[lay.staged_rel(p) for p in staged],
        rejects=reject_paths,
        stats=stats,
        key=key,
        inputs=fingerprint,
    )
    # written last: the shard counts as done only once everything is stored
    lay.stage.write_bytes(lay.tagged_marker(shard.name), result.to_json())
    return result
