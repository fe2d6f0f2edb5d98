"""The one record type every stage passes around, the reject record, and the Arrow schemas.

Documents and rejects are plain dataclasses so the library streams them without pyarrow in the
inner loop; the schemas below fix the column types of staged shards, final shards and rejects so
every shard of a run (and of every later run) has the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

#: Raw input kept in a reject is cut to this many characters (a broken multi-MB line stays readable).
RAW_LIMIT = 100_000

#: A document longer than this many characters is a long document: its parsed record is dropped
#: once it is built (`sources.fields.per_record`) and its str once the tag batch's Arrow table holds
#: it (`tag._Batch.to_table`), so one copy of a long text is alive at a time.
LONG_TEXT_CHARS = 1 << 18


@dataclass(slots=True)
class Document:
    """One training document. `id` follows design.md: `<source>/<file stem>/<record index>` or the
    source's own id (oasst message_id, Wikipedia page id, ...); never a content hash."""

    id: str
    text: str
    source: str
    subset: str | None = None
    lang: str | None = None  # a hint (record or config); the language tag is made in `tag`
    meta: dict[str, Any] = field(default_factory=dict)
    #: Chat form for conversation sources: [{"role": "user"|"assistant"|"system", "content": str}].
    messages: list[dict[str, str]] | None = None
    #: Provenance: input file (or hub id), 1-based line for line formats, 0-based record index.
    file: str = ""
    line: int | None = None
    record: int | None = None


@dataclass(slots=True)
class Reject:
    """A record that left a stage without becoming (or staying) a document.

    `drop_reason` is machine-readable (`malformed`, `deleted`, ...); `drop_value` is the value or
    detail that decided it (e.g. `invalid_json: unexpected character`); `field` names the field at
    fault when there is one."""

    stage: str
    drop_reason: str
    source: str
    drop_value: str | None = None
    field: str | None = None
    id: str | None = None
    subset: str | None = None
    file: str | None = None
    line: int | None = None
    record: int | None = None
    raw: str | None = None
    text: str | None = None
    meta: dict[str, Any] | None = None


def dumps_meta(meta: dict[str, Any] | None) -> str | None:
    """Meta is stored as a JSON string: sources disagree on its keys, and a string column keeps one
    schema for every shard while staying readable in any Parquet viewer."""
    if meta is None:
        return None
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def cut_raw(raw: str | bytes | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT]


MESSAGE_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))

#: Columns shared by staged and final shards, in order.
DOC_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("subset", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float32()),
    pa.field("zh_variant", pa.string()),
    pa.field("meta", pa.string()),
    pa.field("messages", MESSAGE_TYPE),
    pa.field("n_bytes", pa.int64(), nullable=False),
    pa.field("n_chars", pa.int64(), nullable=False),
    pa.field("n_tokens", pa.int64(), nullable=False),
]

#: Columns of the staged shards that no tagger computes: provenance, the source's own language
#: claim, the oasst tree (dedup group) and the normalization trace.
PROVENANCE_FIELDS: list[pa.Field] = [
    pa.field("file", pa.string(), nullable=False),
    pa.field("line", pa.int64()),
    pa.field("record", pa.int64()),
    pa.field("lang_hint", pa.string()),
    pa.field("dedup_group", pa.string()),
    pa.field("norm_changes", pa.list_(pa.string()), nullable=False),
]

#: The language tagger's own columns: fastText's raw answer, script shares, t2s share.
LANGUAGE_TAG_FIELDS: list[pa.Field] = [
    pa.field("lang_ft", pa.string()),
    pa.field("lang_ft_score", pa.float32()),
    pa.field("script_han", pa.float32()),
    pa.field("script_latin", pa.float32()),
    pa.field("script_kana", pa.float32()),
    pa.field("script_hangul", pa.float32()),
    pa.field("script_other", pa.float32()),
    pa.field("t2s_share", pa.float32()),
]

#: Exact-dedup keys (xxh3-128 of the case-insensitive and case-sensitive key).
KEY_FIELDS: list[pa.Field] = [
    pa.field("key_hash", pa.string(), nullable=False),
    pa.field("key_hash_cs", pa.string(), nullable=False),
]


def __getattr__(name: str) -> list[pa.Field]:
    """`STAGED_EXTRA_FIELDS`: provenance plus the columns of every registered tagger (for the
    default config), read from the registry (pipeline/taggers.py) when asked for, so a tagger
    added there appears here too."""
    if name == "STAGED_EXTRA_FIELDS":
        from pipeline.config import RunConfig, SourceConfig
        from pipeline.taggers import tag_fields

        cfg = RunConfig(sources=[SourceConfig(name="x", type="generic", paths=["x"])])
        return PROVENANCE_FIELDS + tag_fields(cfg)
    raise AttributeError(name)


#: Columns select adds to the final shards.
FINAL_EXTRA_FIELDS: list[pa.Field] = [
    pa.field("n_words", pa.int64(), nullable=False),
    pa.field("dup_cluster", pa.string()),
    pa.field("dup_cluster_size", pa.int64(), nullable=False),
    # quality rules the document fails (empty when it passes; filled in label_only mode)
    pa.field("q_failed", pa.list_(pa.string()), nullable=False),
]


def minhash_type(num_perm: int) -> pa.DataType:
    return pa.list_(pa.uint32(), num_perm)


FINAL_SCHEMA = pa.schema(DOC_FIELDS + FINAL_EXTRA_FIELDS)

REJECT_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("drop_reason", pa.string(), nullable=False),
        pa.field("drop_value", pa.string()),
        pa.field("field", pa.string()),
        pa.field("id", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("subset", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("record", pa.int64()),
        pa.field("raw", pa.string()),
        pa.field("text", pa.string()),
        pa.field("meta", pa.string()),
        pa.field("n_bytes", pa.int64()),
        pa.field("n_tokens", pa.int64()),
        pa.field("duplicate_of", pa.string()),
        pa.field("q_failed", pa.list_(pa.string())),
    ]
)


def rejects_to_table(rejects: list[Reject]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in REJECT_SCHEMA}
    for r in rejects:
        cols["stage"].append(r.stage)
        cols["drop_reason"].append(r.drop_reason)
        cols["drop_value"].append(r.drop_value)
        cols["field"].append(r.field)
        cols["id"].append(r.id)
        cols["source"].append(r.source)
        cols["subset"].append(r.subset)
        cols["lang"].append(None)
        cols["lang_score"].append(None)
        cols["file"].append(r.file)
        cols["line"].append(r.line)
        cols["record"].append(r.record)
        cols["raw"].append(cut_raw(r.raw))
        cols["text"].append(r.text)
        cols["meta"].append(dumps_meta(r.meta))
        cols["n_bytes"].append(len(r.text.encode("utf-8")) if r.text is not None else None)
        cols["n_tokens"].append(None)
        cols["duplicate_of"].append(None)
        cols["q_failed"].append(None)
    return pa.table(cols, schema=REJECT_SCHEMA)
