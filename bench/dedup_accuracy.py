"""Dedup accuracy on real sample documents with planted near-duplicates, printed as JSON.

1. `ngram_choice`: the exact shingle-set Jaccard that 1%, 3%, 5% edits (mixed substitute/insert/
   delete) produce for English word n in {3, 5, 7} and Chinese character n in {2, 3, 4, 5}, next
   to the background (Jaccard of unrelated sample documents: 99.9th percentile and maximum).
2. `accuracy`: English, Chinese and mixed originals plus planted copies (edit rate uniform in
   [0, --max-rate], operation substitute / insert / delete / reorder / mixed, a few exact copies
   with changed casing) are signed, written as staged shards and clustered by the real
   `pipeline.dedup.cluster.cluster`. The exact Jaccard of EVERY pair of documents (shingle sets,
   through an inverted index) is the truth: recall per Jaccard bucket = share of true pairs whose
   documents end in one cluster; precision = share of flagged pairs (verified edges) whose true
   Jaccard is >= 0.6, and the same over all pairs inside clusters. Targets: precision >= 0.98,
   recall >= 0.95 for J >= 0.85, per language.

    python bench/dedup_accuracy.py [--seed 0] [--copies 300] [--threshold 0.8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "data"))

import dedup_gen as gen  # noqa: E402

from pipeline.config import DedupConfig  # noqa: E402
from pipeline.dedup.cluster import cluster  # noqa: E402
from pipeline.dedup.keys import case_sensitive_key_hash  # noqa: E402
from pipeline.dedup.minhash import signatures  # noqa: E402
from pipeline.dedup.shingles import ShingleBatch, shingle_hashes  # noqa: E402
from pipeline.dedup.keys import key_hash, normalize_key  # noqa: E402

BUCKETS = [(0.6, 0.7), (0.7, 0.8), (0.8, 0.85), (0.85, 0.9), (0.9, 1.0000001)]
OPS = ("substitute", "insert", "delete", "reorder", "mixed")


def doc_sets(batch: ShingleBatch) -> list[np.ndarray]:
    return [np.unique(batch.of(i)) for i in range(len(batch.offsets) - 1)]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    i = len(np.intersect1d(a, b, assume_unique=True))
    u = len(a) + len(b) - i
    return i / u if u else 0.0


def all_pairs_jaccard(sets: list[np.ndarray], min_j: float) -> dict[tuple[int, int], float]:
    """Exact Jaccard of every pair sharing a shingle (inverted index, vectorised pair counts);
    pairs at >= min_j returned."""
    h = np.concatenate(sets)
    d = np.concatenate([np.full(len(s), i, dtype=np.int64) for i, s in enumerate(sets)])
    o = np.lexsort((d, h))
    h, d = h[o], d[o]
    brk = np.r_[True, h[1:] != h[:-1]]
    st = np.flatnonzero(brk)
    ln = np.diff(np.r_[st, len(h)])
    st, ln = st[ln > 1], ln[ln > 1]
    n = len(sets)
    codes = []
    for s0, l in zip(st, ln):  # posting lists (a Python loop per shared shingle: bench only)
        m = d[s0 : s0 + l]
        i, j = np.triu_indices(l, 1)
        codes.append(m[i] * n + m[j])
    if not codes:
        return {}
    code, inter = np.unique(np.concatenate(codes), return_counts=True)
    size = np.array([len(s) for s in sets])
    a, b = code // n, code % n
    jac = inter / (size[a] + size[b] - inter)
    keep = jac >= min_j
    return {(int(x), int(y)): float(v) for x, y, v in zip(a[keep], b[keep], jac[keep])}


def background(docs: list[str], wn: int, cn: int, n: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    sample = rng.sample(docs, min(n, len(docs)))
    sets = doc_sets(shingle_hashes(sample, wn, cn))
    pairs = all_pairs_jaccard(sets, 0.0)
    total = len(sample) * (len(sample) - 1) // 2
    js = np.array(list(pairs.values()) + [0.0] * (total - len(pairs)))
    return {"p99_9": round(float(np.percentile(js, 99.9)), 4), "max": round(float(js.max()), 3), "pairs": total}


def ngram_choice(seed: int) -> dict[str, object]:
    en, zh = gen.english_docs(), gen.chinese_docs()
    zh_long = [t for t in zh if len(t) >= 200]
    voc = gen.vocabularies()
    out: dict[str, object] = {}
    for lang, docs, ns in (("en_word_n", en, (3, 5, 7)), ("zh_char_n", zh_long, (2, 3, 4, 5))):
        rows = {}
        for n in ns:
            wn, cn = (n, 5) if lang == "en_word_n" else (5, n)
            row: dict[str, object] = {}
            for rate in (0.01, 0.03, 0.05):
                rng = random.Random(seed)
                sample = rng.sample(docs, 150)
                edited = [gen.edit(t, "en" if lang == "en_word_n" else "zh", rate, rng, voc) for t in sample]
                sets = doc_sets(shingle_hashes(sample + edited, wn, cn))
                js = [jaccard(sets[i], sets[i + len(sample)]) for i in range(len(sample))]
                row[f"edit_{round(rate * 100)}pct"] = {"mean": round(float(np.mean(js)), 3), "p10": round(float(np.percentile(js, 10)), 3)}
            row["background"] = background(en if lang == "en_word_n" else zh, wn, cn, 400, seed)
            rows[str(n)] = row
        out[lang] = rows
    return out


def staged_table(ids: list[str], sources: list[str], texts: list[str], groups: list[str | None], sigs: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "id": ids,
            "source": sources,
            "key_hash": [key_hash(normalize_key(t)) for t in texts],
            "key_hash_cs": [case_sensitive_key_hash(t) for t in texts],
            "dedup_group": pa.array(groups, type=pa.string()),
            "n_chars": [len(t) for t in texts],
            "minhash": pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), type=pa.uint32()), sigs.shape[1]),
        }
    )


def accuracy(seed: int, copies: int, max_rate: float, cfg: DedupConfig) -> dict[str, object]:
    rng = random.Random(seed)
    voc = gen.vocabularies()
    corpora = {
        "en": gen.english_docs(),
        "zh": rng.sample(gen.chinese_docs(), 1200),
        "mixed": gen.mixed_docs(300, seed),
    }
    ids: list[str] = []
    texts: list[str] = []
    langs: list[str] = []
    planted: list[dict[str, object]] = []
    for lang, docs in corpora.items():
        base = len(texts)
        for i, t in enumerate(docs):
            ids.append(f"{lang}/orig/{i:05d}")
            texts.append(t)
            langs.append(lang)
        for c in range(copies):
            i = rng.randrange(len(docs))
            op = rng.choice(OPS)
            rate = rng.uniform(0, max_rate)
            if c % 25 == 0:  # exact copy, casing changed: same exact key
                t, op, rate = docs[i].upper(), "case", 0.0
            else:
                t = gen.edit(docs[i], lang, rate, rng, voc, op)
            ids.append(f"{lang}/copy/{c:05d}")
            texts.append(t)
            langs.append(lang)
            planted.append({"orig": base + i, "copy": len(texts) - 1, "op": op, "rate": rate})
    t0 = time.perf_counter()
    sigs = signatures(texts, cfg)
    t_sig = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "staged.parquet"
        pq.write_table(staged_table(ids, [f"src_{x}" for x in langs], texts, [None] * len(texts), sigs), shard)
        t0 = time.perf_counter()
        res = cluster([shard], Path(tmp) / "work", cfg)
        t_cl = time.perf_counter() - t0
        clusters = pq.read_table(res.clusters_path).to_pylist()
        edges = pq.read_table(res.edges_path).to_pylist()
    index = {x: i for i, x in enumerate(ids)}
    cl = np.arange(len(ids))  # doc -> cluster (own index when alone)
    cluster_code = {c: k for k, c in enumerate(sorted({r["cluster"] for r in clusters}))}
    for r in clusters:
        cl[index[r["id"]]] = len(ids) + cluster_code[r["cluster"]]
    sets = doc_sets(shingle_hashes(texts, cfg.word_ngram, cfg.char_ngram))
    truth = all_pairs_jaccard(sets, 0.5)

    def group(i: int, j: int) -> str:
        return langs[i] if langs[i] == langs[j] else "cross"

    members: dict[int, list[int]] = {}
    for i in range(len(ids)):
        if cl[i] >= len(ids):
            members.setdefault(int(cl[i]), []).append(i)
    all_in_cluster = [(a, b) for m in members.values() for k, a in enumerate(m) for b in m[k + 1 :]]
    out: dict[str, object] = {}
    for g in ("en", "zh", "mixed", "cross"):
        rec = {}
        for lo, hi in BUCKETS:
            ps = [(i, j) for (i, j), v in truth.items() if lo <= v < hi and group(i, j) == g]
            found = sum(cl[i] == cl[j] for i, j in ps)
            rec[f"[{lo},{min(hi, 1.0)}{']' if hi > 1 else ')'}"] = {"pairs": len(ps), "recall": round(found / len(ps), 4) if ps else None}
        hi_pairs = [(i, j) for (i, j), v in truth.items() if v >= 0.85 and group(i, j) == g]
        flagged = [(index[e["a"]], index[e["b"]]) for e in edges]
        flagged = [(min(i, j), max(i, j)) for i, j in flagged if group(i, j) == g]
        good = sum(truth.get(p, 0.0) >= 0.6 for p in flagged)
        in_cluster = [(a, b) for a, b in all_in_cluster if group(a, b) == g]
        good_c = sum(truth.get((a, b), 0.0) >= 0.6 for a, b in in_cluster)
        out[g] = {
            "recall_by_jaccard": rec,
            "recall_j_ge_0.85": round(sum(cl[i] == cl[j] for i, j in hi_pairs) / len(hi_pairs), 4) if hi_pairs else None,
            "flagged_pairs": len(flagged),
            "precision_flagged": round(good / len(flagged), 4) if flagged else None,
            "pairs_in_clusters": len(in_cluster),
            "precision_in_clusters": round(good_c / len(in_cluster), 4) if in_cluster else None,
        }
    by_op: dict[str, dict[str, object]] = {}
    for p in planted:
        j = jaccard(sets[p["orig"]], sets[p["copy"]])
        d = by_op.setdefault(str(p["op"]), {"n": 0, "found": 0, "found_j_ge_0.8": 0, "n_j_ge_0.8": 0})
        d["n"] += 1
        same = bool(cl[p["orig"]] == cl[p["copy"]])
        d["found"] += same
        if j >= 0.8:
            d["n_j_ge_0.8"] += 1
            d["found_j_ge_0.8"] += same
    return {
        "documents": len(ids),
        "planted_copies": len(planted),
        "true_pairs_j_ge_0.6": sum(v >= 0.6 for v in truth.values()),
        "per_language": out,
        "planted_by_op": by_op,
        "cluster_stats": {k: v for k, v in res.stats().items() if k not in ("source_pairs", "source_docs")},
        "seconds": {"signatures": round(t_sig, 2), "cluster": round(t_cl, 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--copies", type=int, default=300, help="planted copies per language")
    ap.add_argument("--max-rate", type=float, default=0.12, help="largest edit rate of a planted copy")
    ap.add_argument("--threshold", type=float, default=None, help="override DedupConfig.threshold")
    ap.add_argument("--skip-ngram", action="store_true")
    args = ap.parse_args()
    cfg = DedupConfig() if args.threshold is None else DedupConfig(threshold=args.threshold)
    result: dict[str, object] = {"config": cfg.model_dump(mode="json")}
    if not args.skip_ngram:
        result["ngram_choice"] = ngram_choice(args.seed)
    result["accuracy"] = accuracy(args.seed, args.copies, args.max_rate, cfg)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
