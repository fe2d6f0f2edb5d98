"""What the readers yield: `RawRecord`s, and `malformed` rejects with the raw input they show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.document import RAW_LIMIT, Reject


@dataclass(slots=True)
class RawRecord:
    """One input record before any adapter looked at it.

    `line` is 1-based for line formats (None for whole-JSON, Parquet and Hub rows); `record` is the
    0-based index that goes into default ids (for JSONL: line - 1, so ids are stable under edits of
    other lines' content). `repaired` counts the U+FFFD inserted when invalid UTF-8 was repaired;
    `stem` is the file's id stem (unique within its source). `value` becomes None once an adapter
    has built a long document from it (`fields.per_record`), so the parsed record is not kept."""

    value: Any
    file: str
    line: int | None
    record: int
    raw: bytes | str | None = None
    repaired: int = 0
    stem: str = ""


#: Lines longer than this many bytes are released by the JSONL reader as soon as they are parsed, and
#: their RawRecord keeps only the head that `raw_text` can show (`kept_raw`): a long document is
#: then not held as bytes while it is normalized and tagged (issue 19 item 10).
LONG_LINE = 1 << 20


def kept_raw(raw: bytes) -> bytes:
    """The part of a line that `raw_text` reads: raw_text(kept_raw(x)) == raw_text(x). One byte more
    than raw_text's cut, so a CR there is stripped (or not) exactly as in the whole line."""
    return raw[: RAW_LIMIT * 4 + 1]


def raw_text(raw: bytes | str | None) -> str | None:
    """Raw input for a reject: invalid bytes kept visible as \\xNN, cut to RAW_LIMIT."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        if raw.endswith(b"\r"):  # CRLF input: the line without its line end
            raw = raw[:-1]
        raw = raw[: RAW_LIMIT * 4].decode("utf-8", errors="backslashreplace")
    return raw[:RAW_LIMIT]


def read_reject(
    source: str,
    detail: str,
    file: str,
    line: int | None,
    record: int | None,
    raw: bytes | str | None,
    stem: str,
    field: str | None = None,
) -> Reject:
    return Reject(
        stage="read",
        drop_reason="malformed",
        source=source,
        drop_value=detail,
        field=field,
        id=f"{source}/{stem}/{record}" if record is not None else None,
        file=file,
        line=line,
        record=record,
        raw=raw_text(raw),
    )
