"""Offline tiktoken: counts on real English and Chinese lines, special-token strings as text, no
network (pytest-socket is active for the whole run), and a cold, empty cache directory.

Real text below is pasted from the shared sample corpora (cited per literal)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken
import tiktoken.registry
from pytest_socket import SocketBlockedError, SocketConnectBlockedError

from pipeline import tokens
from pipeline.tokens import (
    OfflineEncodingError,
    available_encodings,
    count_bytes,
    count_chars,
    count_tokens,
    get_encoding,
)

# en/c4_demo.jsonl, line 1 (first paragraph)
EN_C4 = (
    "Don’t think you need all the bells and whistles? No problem. McKinley Heating Service Experts Heating & Air "
    "Conditioning offers basic air cleaners that work to improve the quality of the air in your home without "
    "breaking the bank. It is a low-cost solution that will ensure you and your family are living comfortably."
)
# en/c4_demo.jsonl, line 2 (first two sentences)
EN_DISNEY = (
    "To the apparent surprise of everyone, the Walt Disney Company has announced a deal to purchase Lucasfilm "
    "Ltd. According to the official press release, Disney has agreed to fork over $4.05 billion in cash and stock "
    "for George Lucas’ studio in a deal that brings together two of the world’s most"
)
# zh/poet.tang.0.json, record 0 (title + paragraphs)
ZH_TANG = "帝京篇十首 一\n秦川雄帝宅，函谷壯皇居。\n綺殿千尋起，離宮百雉餘。\n連甍遙接漢，飛觀迥凌虛。\n雲日隱層闕，風煙出綺疎。"
# zh/cmrc2018_dev.json, a context paragraph (excerpt)
ZH_CMRC = "佛教出家众，受具足戒时，需要有三师七证在场，其中的三师，指的是指「出家阿阇梨」、「羯磨阿阇梨」、「教授阿阇梨」。"
# zh/alpaca_zh_demo.json, record 643, "input"
ZH_ALPACA = "鲍勃：“嗨，你好吗？”\n凯利：“好的，你呢？”"

REAL = [EN_C4, EN_DISNEY, ZH_TANG, ZH_CMRC, ZH_ALPACA]


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep this module's BPE files out of the developer's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path_factory.mktemp("tiktoken-cache")))
    get_encoding.cache_clear()
    yield
    mp.undo()
    get_encoding.cache_clear()


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_counts_equal_encode_ordinary(encoding: str) -> None:
    enc = get_encoding(encoding)
    assert count_tokens(REAL, encoding) == [len(enc.encode_ordinary(t)) for t in REAL]
    assert count_tokens(REAL, encoding, num_threads=4) == count_tokens(REAL, encoding)


def test_known_token_ids() -> None:
    """Pinned ids: a wrong or truncated BPE file would change them."""
    assert get_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert count_tokens(["床前明月光，疑是地上霜。"]) == [13]
    assert count_tokens(["床前明月光，疑是地上霜。"], "cl100k_base") == [17]


def test_chinese_costs_more_tokens_per_char_than_english() -> None:
    en, zh = count_tokens([EN_DISNEY, ZH_CMRC])
    assert len(EN_DISNEY) / en > 3 > len(ZH_CMRC) / zh


def test_special_token_string_counts_as_text() -> None:
    text = "Split documents with <|endoftext|> between them."
    enc = get_encoding()
    (n,) = count_tokens([text])
    assert n == len(enc.encode(text, disallowed_special=()))
    assert enc.eot_token not in enc.encode_ordinary(text)
    assert count_tokens(["<|endoftext|>"]) == [7]
    assert count_tokens(["<|endoftext|>"], "cl100k_base") == [7]


def test_empty_inputs() -> None:
    assert count_tokens([]) == []
    assert count_tokens([""]) == [0]


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_sockets_are_disabled_and_encoding_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises((SocketBlockedError, SocketConnectBlockedError)):
            sock.connect(("93.184.216.34", 443))  # any outside host: blocked by pytest-socket
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # force tiktoken to load from disk
    get_encoding.cache_clear()
    assert count_tokens([EN_C4, ZH_TANG]) == [len(get_encoding().encode_ordinary(t)) for t in (EN_C4, ZH_TANG)]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_cold_empty_cache_dir(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "fresh" / "tiktoken"  # does not exist yet
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    get_encoding.cache_clear()
    enc = get_encoding(name)
    spec = tokens._blob_spec(name)
    assert spec is not None and spec.url.startswith("https://") and spec.url.endswith(f"/{name}.tiktoken")
    blob = cache / hashlib.sha1(spec.url.encode()).hexdigest()
    assert blob.is_file()
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == spec.sha256
    assert [p.name for p in cache.iterdir()] == [blob.name]  # no temp file left behind
    assert len(enc.encode_ordinary(ZH_CMRC)) > 0
    assert get_encoding(name) is enc  # cached per process


def test_corrupt_cached_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    get_encoding.cache_clear()
    spec = tokens._blob_spec("cl100k_base")
    assert spec is not None
    blob = tmp_path / hashlib.sha1(spec.url.encode()).hexdigest()
    blob.write_bytes(b"truncated")
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == spec.sha256


def test_available_encodings() -> None:
    names = available_encodings()
    assert {"o200k_base", "cl100k_base"} <= set(names)
    assert "gpt2" not in names and "r50k_base" not in names


@pytest.mark.parametrize("name", ["r50k_base", "gpt2", "no_such_encoding"])
def test_unavailable_encoding_error_lists_offline_names(name: str) -> None:
    with pytest.raises(OfflineEncodingError, match="o200k_base") as info:
        get_encoding(name)
    assert name in str(info.value) and "cl100k_base" in str(info.value)


def test_byte_and_char_counts() -> None:
    assert count_bytes(EN_C4) == len(EN_C4.encode("utf-8")) == len(EN_C4) + 2 * EN_C4.count("’")
    assert count_chars(EN_C4) == len(EN_C4)
    assert count_bytes(ZH_TANG) == len(ZH_TANG.encode("utf-8"))
    assert count_chars(ZH_TANG) == 59  # 7 + 4 x 12 characters + 4 line breaks
    assert count_bytes("abc") == 3 and count_chars("") == 0
    assert count_bytes("\U0001f600") == 4 and count_chars("\U0001f600") == 1


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_counts_come_from_the_token_buffer_and_match_the_public_api(encoding: str) -> None:
    """Counts are read from tiktoken's uint32 buffer (no Python list of ints per token): the same
    counts as encode_ordinary, special-token strings read as text, lone surrogates repaired."""
    import pipeline.tokens as tk

    texts = [*REAL, "Split documents with <|endoftext|> between them. <|fim_prefix|>", "", "床前明月光", "a\ud800b\udfff"]
    assert tk._token_counter(encoding).__name__ == "by_buffer"
    want = [len(get_encoding(encoding).encode_ordinary(t)) for t in texts]
    assert count_tokens(texts, encoding) == want


class _WrongCore:
    """A stand-in for a tiktoken release whose private buffer route changed meaning."""

    def __init__(self, core: object) -> None:
        self._core = core

    def encode_to_tiktoken_buffer(self, text: str, allowed: object) -> bytes:
        return b"\0" * 4 * (len(text) + 1)


@pytest.mark.parametrize("broken", ["missing", "disagrees"])
def test_token_counter_falls_back_to_the_public_api(broken: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the private buffer route is missing or disagrees with encode_ordinary on the probe texts,
    counting goes through the public API, with the same counts."""
    import pipeline.tokens as tk

    enc = get_encoding("cl100k_base")
    core = enc._core_bpe
    monkeypatch.setattr(enc, "_core_bpe", object() if broken == "missing" else _WrongCore(core))
    tk._token_counter.cache_clear()
    try:
        counter = tk._token_counter("cl100k_base")
        assert counter.__name__ == "by_list"
        monkeypatch.setattr(enc, "_core_bpe", core)  # encode_ordinary itself needs the real core
        assert [counter(t) for t in REAL] == [len(enc.encode_ordinary(t)) for t in REAL]
    finally:
        monkeypatch.setattr(enc, "_core_bpe", core)
        tk._token_counter.cache_clear()
