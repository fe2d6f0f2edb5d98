"""Property: for any mix of good JSON lines and garbage bytes, the reader yields exactly one outcome
per line (a trailing newline is not a line), in order, and never raises."""

from __future__ import annotations

import gzip
import os
import tempfile

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources import expand_inputs, iter_shard
from pipeline.sources.reader import read_file
from pipeline.sources.records import RawRecord

PREFIXES = ("invalid_json: ", "invalid_utf8: ", "nul_byte", "empty_line", "not_an_object")

good_line = st.builds(
    lambda t, extra: orjson.dumps({"text": t, **extra}),
    st.text(),
    st.dictionaries(st.sampled_from(["id", "meta", "n"]), st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=5), st.none())),
)
garbage_line = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))
tricky_line = st.sampled_from([b"", b"   ", b"\r", b"[1]", b"null", b'{"text": 1}', b'{"text": "\x00"}', b'{"a": "\xff"}', b"\xef\xbb\xbf{}", b"{"])
lines_strategy = st.lists(st.one_of(good_line, garbage_line, tricky_line), max_size=25)


def _expected_lines(data: bytes) -> int:
    if not data:
        return 0
    return len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0)


def _write(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, trailing=st.booleans(), crlf=st.booleans(), mode=st.sampled_from(["reject", "repair"]))
def test_one_outcome_per_line(lines: list[bytes], trailing: bool, crlf: bool, mode: str) -> None:
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(lines) + (sep if trailing else b"")
    # By design a file that starts with gzip/zstd magic bytes is read as compressed whatever its name
    # (test_compression_from_magic_bytes): such data is not a plain-text file this property is about.
    assume(not data.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd")))
    # Likewise a UTF-16/32 byte order mark makes the file UTF-16/32 (test_encodings.py): FF FE and
    # FE FF never start UTF-8 text, so such data is not a UTF-8 file either.
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")))
    n = _expected_lines(data)
    for suffix, blob in ((".jsonl", data), (".jsonl.gz", gzip.compress(data, mtime=0))):
        path = _write(blob, suffix)
        try:
            out = list(read_file(path, "src", invalid_utf8=mode))  # type: ignore[arg-type]
            assert len(out) == n
            assert [x.line for x in out] == list(range(1, n + 1))
            for x, raw in zip(out, data.split(b"\n")):
                if isinstance(x, Reject):
                    assert x.drop_reason == "malformed" and x.stage == "read"
                    assert x.drop_value is not None and x.drop_value.startswith(PREFIXES)
                else:
                    assert isinstance(x, RawRecord) and isinstance(x.value, dict)
                    if mode == "reject":
                        body = raw[:-1] if raw.endswith(b"\r") else raw
                        if x.line == 1 and body.startswith(b"\xef\xbb\xbf"):
                            body = body[3:]
                        assert x.value == orjson.loads(body)
            # every good line survives, as a record with its text
            for i, line in enumerate(lines):
                if line.startswith(b'{"text":') and not line.startswith(b'{"text": '):  # good_line output (compact)
                    value = orjson.loads(line)
                    assert isinstance(out[i], RawRecord) and out[i].value == value  # type: ignore[union-attr]
            # and through an adapter: still one outcome per line
            src = SourceConfig(name="src", type="generic", paths=[path])
            items = list(iter_shard(expand_inputs(src)[0], src, mode))  # type: ignore[arg-type]
            assert len(items) == n
            assert all(isinstance(x, (Document, Reject)) for x in items)
        finally:
            os.unlink(path)
