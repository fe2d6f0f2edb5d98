"""Case-sensitive exact key: the twin of `normalize_key` without casefold, for the casing-impact
figure (how many more exact duplicates the case-insensitive key finds).

Two texts with the same case-sensitive key also have the same case-insensitive key, so the staged
column `key_hash_cs` counts a subset of `key_hash`'s duplicates and the impact is never negative.
"""

from __future__ import annotations

from pipeline.normalize import key_hash, key_hashes, normalize_key

__all__ = ["KEY_HASH_CS", "EMPTY_KEY_HASH", "case_sensitive_key", "case_sensitive_key_hash"]

#: Staged-shard column holding `case_sensitive_key_hash(text)`.
KEY_HASH_CS = "key_hash_cs"
#: key_hash("") — the key of a text made only of punctuation/symbols/spaces: never a duplicate key.
EMPTY_KEY_HASH = key_hash("")


def case_sensitive_key(text: str) -> str:
    """NFKC + P*/Z*/C*/S* deleted, case kept."""
    return normalize_key(text, casefold=False)


def case_sensitive_key_hash(text: str) -> str:
    """The `key_hash_cs` column value: xxh3-128 hex of `case_sensitive_key(text)`, computed by the
    keys tagger's own `key_hashes` so the two can never disagree."""
    return key_hashes(text)[1]
