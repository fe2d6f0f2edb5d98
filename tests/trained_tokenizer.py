"""A small BPE tokenizer trained by `tokenizers` on the shipped samples (English C4 + Chinese cmrc2018),
for tests that need a Hugging Face tokenizer.json without downloading one."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def sample_texts() -> list[str]:
    en = [json.loads(line)["text"] for line in (SAMPLES / "en" / "c4_demo.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    cmrc = json.loads((SAMPLES / "zh" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    zh = [p["context"] for art in cmrc["data"] for p in art["paragraphs"]]
    return en + zh


def train_tokenizer(folder: Path, vocab_size: int = 3000) -> Path:
    """Byte-level BPE with <s> / </s>; returns the tokenizer.json path (vocabulary < 65500: uint16)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(sample_texts(), trainer=trainer)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return path
