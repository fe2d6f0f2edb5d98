"""PII detection (filters/pii.py): planted values of every kind inside real English and Chinese
text are redacted with the right placeholder; ordinary numbers survive; the shipped samples
change in <= 0.5% of documents under redact, every change reviewed below."""

from __future__ import annotations

import datetime
import random
from pathlib import Path

import pytest

from filters.pii import PLACEHOLDERS, luhn_ok, pii_counts, scan, valid_resident_id
from pipeline.config import load_config
from pipeline.document import Document
from pipeline.runner import plan
from pipeline.sources import iter_shard

REPO = Path(__file__).resolve().parents[1]
_ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@pytest.fixture(scope="module")
def sample_docs() -> list[tuple[str, str, str]]:
    cfg = load_config(REPO / "data/configs/sample.yaml")
    out = []
    for shard, src in plan(cfg):
        for d in iter_shard(shard, src, "reject"):
            if isinstance(d, Document):
                out.append((src.name, d.id, d.text))
    return out


def _resident_id(rng: random.Random) -> str:
    region = rng.choice(["110105", "310104", "440305", "510107", "330106"])
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(25000))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _ID_W)) % 11]


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("62", 16), ("3530", 16)])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    check = next(str(d) for d in range(10) if luhn_ok(body + str(d)))
    digits = body + check
    if length == 16 and rng.random() < 0.5:
        return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    return digits


def _planted(kind: str, rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if kind == "email":
        return f"{rng.choice(['anna', 'wei.zhang', 'j_smith'])}{rng.randrange(100)}@{rng.choice(['example.com', 'mail.qq.com', 'uni.edu.cn'])}"
    if kind == "phone":
        mob = f"1{rng.choice('3456789')}{rng.randrange(10)}{rng.randrange(10**8):08d}"
        return rng.choice([mob, f"{mob[:3]} {mob[3:7]} {mob[7:]}", f"{mob[:3]}-{mob[3:7]}-{mob[7:]}", f"+86 {mob}", f"+1 415-555-{rng.randrange(10**4):04d}", f"+44 20 7946 {rng.randrange(10**4):04d}"])
    if kind == "id_number":
        return _resident_id(rng)
    if kind == "ip":
        if rng.random() < 0.3:
            return f"2001:db8:{rng.randrange(1 << 16):x}::{rng.randrange(1 << 16):x}"
        return f"{rng.choice([11, 23, 58, 101, 172, 192, 203])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if kind == "card":
        return _card(rng)
    return rng.choice([
        "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "ghp_" + "".join(rng.choice(letters + "0123456789") for _ in range(36)),
        "hf_" + "".join(rng.choice(letters) for _ in range(34)),
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----",
    ])


@pytest.mark.parametrize("kind", list(PLACEHOLDERS))
def test_planted_values_are_redacted_in_real_text(kind: str, sample_docs: list[tuple[str, str, str]]) -> None:
    rng = random.Random(kind)
    hosts = {"en": [t for s, _, t in sample_docs if s in ("redpajama_c4", "cc_en")], "zh": [t for s, _, t in sample_docs if s == "alpaca_zh"]}
    lead = {"en": [" contact: ", " (", " at "], "zh": ["，联系方式：", "（", "："]}
    for lang, pool in hosts.items():
        texts, values = [], []
        for _ in range(100):
            host = rng.choice(pool)
            cut = host.find(" ", min(len(host) - 1, rng.randrange(20, 200))) if lang == "en" else min(len(host), rng.randrange(5, 60))
            cut = cut if cut > 0 else len(host)
            value = _planted(kind, rng)
            texts.append(host[:cut] + rng.choice(lead[lang]) + value + (" " if lang == "en" else "。") + host[cut:])
            values.append(value)
        redacted, counts = pii_counts(texts, [True] * len(texts))
        ok = sum(v not in r and PLACEHOLDERS[kind] in r for v, r in zip(values, redacted))
        assert ok / len(texts) >= 0.98, (lang, ok)
        assert (counts[kind] >= 1).mean() >= 0.98


@pytest.mark.parametrize(
    "text",
    [
        "Released on 2023-01-15 at 10:30:45, priced $1,234.56 (or ¥8,999.00).",
        "ISBN 978-3-16-148410-0 and ISBN 9787020002207 are books, not cards.",
        "Upgrade to version 10.0.2.15 or v1.2.3.4; Python 3.11.4; section 1.2.3.4 explains it.",
        "订单号13812345678已发货，编号：15912345678，运单 No. 13600001111。",
        "Order #4111111111111111 shipped; invoice 5500000000000004.",
        "The population was 1,394,000,000 in 2020 and 13,912,345,678 yuan were spent.",
        "Call 1-800-555-0199 or 555-0123 (US local forms are not international), ext. 1234.",
        "身份证号 110105194912310021 的校验位不对，19491231 是日期。",
        "Loopback 127.0.0.1 and 0.0.0.0 are the same on every machine.",
        "use std::map and a::b::c in C++; 12:30:45; de:ad",
        "gh_not_a_token and hf_short and AKIA too short",
    ],
)
def test_ordinary_numbers_survive(text: str) -> None:
    assert scan(text) == []


def test_resident_id_checksum_and_birth_date() -> None:
    assert valid_resident_id("11010519491231002X")
    assert not valid_resident_id("110105194912310021")  # wrong check character
    assert not valid_resident_id("110105194902300028")  # 30 February
    assert not valid_resident_id("990105194912310020")  # no such region


def test_shipped_samples_change_rarely_and_every_change_is_reviewed(sample_docs: list[tuple[str, str, str]]) -> None:
    texts = [t for _, _, t in sample_docs]
    redacted, _ = pii_counts(texts, [True] * len(texts))
    changed = {sample_docs[i][1]: sorted({h.kind for h in scan(texts[i])}) for i in range(len(texts)) if redacted[i] != texts[i]}
    assert len(sample_docs) == 4794
    assert len(changed) / len(sample_docs) <= 0.005  # 8 of 4,794 = 0.17%
    assert changed == {
        # real contact e-mail addresses published on web pages
        "redpajama_c4/c4_demo/64": ["email"],
        "redpajama_c4/c4_demo/96": ["email"],
        "redpajama_c4/c4_demo/166": ["email"],
        "redpajama_c4/c4_demo/167": ["email"],
        "redpajama_c4/c4_demo/190": ["email"],
        "redpajama_c4/c4_demo/260": ["email"],
        "redpajama_c4/c4_demo/298": ["email"],
        # known false positive: router default addresses 192.168.0.1 / 192.168.1.1 in a how-to
        # (private addresses are redacted like any IP: they identify machines inside a network)
        "alpaca_zh/alpaca_zh_demo/601": ["ip"],
    }


def test_redact_policy_rewrites_only_where_asked() -> None:
    texts = ["mail a@b.org now", "mail c@d.org now"]
    out, counts = pii_counts(texts, [True, False])
    assert out == ["mail <EMAIL> now", "mail c@d.org now"]
    assert counts["email"].tolist() == [1, 1]
