"""The partitioned cluster step (issue #18) against the single-process `cluster()` it replaced
(tests/dedup/reference_cluster.py, the code as it was): byte-identical clusters.parquet and
edges.parquet, the same cluster_stats.json (less `n_partitions`, which is no answer), whatever the
number of partitions and of worker processes; on real sample documents and on seeded synthetic
shards with cross-shard near duplicates, exact copies, dedup groups and over-large buckets."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import reference_cluster as R
from dedup_helpers import Doc, c4_texts, cmrc_texts, oasst_texts, write_shards

from pipeline.config import DedupConfig
import pipeline.dedup.components as components
import pipeline.dedup.edges as edges
from pipeline.dedup.cluster import cluster
from pipeline.dedup.components import finish_clusters
from pipeline.dedup.edges import partition_edges
from pipeline.dedup import pairs, verify
from pipeline.dedup.verify import verify_pairs
from pipeline.dedup.plan import _VERIFY_BAND_ROWS, choose_partitions, plan_clusters
from pipeline.dedup.pool import pool_map
from pipeline.dedup.sidecar import FINE_BUCKETS, read_footer, sidecar_path
from pipeline.layout import Store, url_to_fs

CFG = DedupConfig()
REPO = Path(__file__).resolve().parents[2]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("cluster_scale", REPO / "bench" / "cluster_scale.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _outputs(work: Path) -> tuple[bytes, bytes, dict[str, object]]:
    stats = json.loads((work / "cluster_stats.json").read_text())
    stats.pop("n_partitions", None)
    return (work / "clusters.parquet").read_bytes(), (work / "edges.parquet").read_bytes(), stats


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], tuple[bytes, bytes, dict[str, object]]]:
    """Four seeded shards of 3000 documents (the bench's generator) and the reference outputs."""
    root = tmp_path_factory.mktemp("synthetic")
    paths = _bench().generate(root / "in", 12_000, seed=7, shard_rows=3_000)  # type: ignore[attr-defined]
    ref = R.cluster(paths, root / "ref", CFG)
    assert ref.n_clusters > 500 and ref.n_exact_edges > 100 and ref.n_exempt_pairs > 0
    return paths, _outputs(root / "ref")


@pytest.mark.parametrize(("partitions", "verify_buckets"), [(1, None), (3, 5), (64, 2)])
def test_same_bytes_as_the_single_process_cluster(
    synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], partitions: int, verify_buckets: int | None, tmp_path: Path
) -> None:
    paths, ref = synthetic
    res = cluster(list(reversed(paths)), tmp_path / "w", CFG, partitions=partitions, verify_buckets=verify_buckets)
    assert res.n_partitions == partitions
    got = _outputs(tmp_path / "w")
    assert got[0] == ref[0] and got[1] == ref[1]
    assert got[2] == ref[2]


def test_two_workers_and_sidecars_next_to_the_shards(synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path) -> None:
    paths, ref = synthetic
    store = Store(*url_to_fs("/"), "/")
    res = cluster(paths, tmp_path / "w2", CFG, workers=2, store=store, sidecar_store=store, sidecar_of=sidecar_path)
    assert res.n_partitions % 2 == 0 and res.task_peak_rss_mb > 0
    assert _outputs(tmp_path / "w2") == ref
    footer = read_footer(store, sidecar_path(str(paths[0])))
    assert footer is not None and footer["n"] == 3_000 and footer["buckets"] == FINE_BUCKETS
    assert not (tmp_path / "w2" / "_parts").exists()


def test_large_buckets_and_greedy_path_match_the_reference(monkeypatch: pytest.MonkeyPatch, synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path) -> None:
    """With a tiny all-pairs limit most buckets go greedy: still the reference's clusters and edges."""
    paths, _ = synthetic
    for mod in (edges, R):
        monkeypatch.setattr(mod, "_ALL_PAIRS_MAX", 3)
        monkeypatch.setattr(mod, "_GREEDY_ROUNDS", 2)
    R.cluster(paths, tmp_path / "ref", CFG)
    cluster(paths, tmp_path / "new", CFG, partitions=5)
    ref, got = _outputs(tmp_path / "ref"), _outputs(tmp_path / "new")
    assert got[0] == ref[0] and got[1] == ref[1]
    # buckets too large to hold their rows for the greedy pass read them per round: same outputs
    monkeypatch.setattr(edges, "_GREEDY_LOCAL_ROWS", 3)
    cluster(paths, tmp_path / "per-round", CFG, partitions=5)
    assert _outputs(tmp_path / "per-round") == got
    # pair counts differ from the reference only where a pair also shares a large bucket (counted
    # once, at its smallest shared key, here; in each small bucket's chunk there)
    counted = ("n_candidate_pairs", "n_exempt_pairs")
    assert {k: v for k, v in got[2].items() if k not in counted} == {k: v for k, v in ref[2].items() if k not in counted}


def test_real_documents_match_the_reference(tmp_path: Path) -> None:
    c4, cm, oa = c4_texts(), cmrc_texts(), oasst_texts()
    docs = [Doc(f"c4/{i:04d}", "c4", t) for i, t in enumerate(c4[:80])]
    docs += [Doc(f"cmrc/{i:04d}", "cmrc", t) for i, t in enumerate(cm[:80])]
    docs += [Doc(f"oasst/{i:04d}", "oasst", t, group=f"tree{i // 5}") for i, t in enumerate(oa[:40])]
    docs += [Doc(f"dup/{i:04d}", "web", t.upper()) for i, t in enumerate(c4[:20])]  # exact under the key
    docs += [Doc(f"near/{i:04d}", "web", t + " Thanks for reading.") for i, t in enumerate(c4[20:40])]
    docs += [Doc(f"tree/{i:04d}", "oasst", t, group=f"tree{i // 5}") for i, t in enumerate(oa[:10])]  # exempt
    paths = write_shards(docs, tmp_path / "in", CFG, shards=3)
    R.cluster(paths, tmp_path / "ref", CFG)
    for p in (1, 2, 7):
        cluster(paths, tmp_path / f"p{p}", CFG, partitions=p, verify_buckets=p + 1)
        assert _outputs(tmp_path / f"p{p}") == _outputs(tmp_path / "ref")


def test_plan_tasks_and_finish_one_by_one(synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path) -> None:
    """The library steps the flow maps, called as the flow calls them (tasks of a stage in any
    order): partition tasks, then verify tasks, then the final step."""
    paths, ref = synthetic
    plan = plan_clusters(paths, tmp_path / "w", CFG, partitions=4, verify_buckets=3, sidecar_of=lambda p: str(tmp_path / (Path(p).stem + ".lsh")))
    assert plan.n_docs == 12_000 and plan.verify_buckets == 3 and plan.ranges[0][0] == 0 and plan.ranges[-1][1] == FINE_BUCKETS
    counts = [partition_edges(plan, i) for i in reversed(range(plan.partitions))]
    counts += [verify_pairs(plan, j) for j in reversed(range(plan.verify_buckets))]
    assert all(c["peak_rss_mb"] > 0 for c in counts)
    finish_clusters(plan, keep_intermediate=True)
    assert _outputs(tmp_path / "w") == ref
    # the outputs' own tasks (rows by shard slice, clusters by range of cluster ids), run here
    for groups in (2, 3):
        (tmp_path / "w" / "clusters.parquet").unlink()
        finish_clusters(plan, keep_intermediate=True, map_fn=pool_map(1), groups=groups, min_parallel_docs=0)
        assert _outputs(tmp_path / "w") == ref


def test_pairs_in_many_flushes_and_verify_rounds(
    monkeypatch: pytest.MonkeyPatch, synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path
) -> None:
    """A partition's candidate pairs written in many flushes of pair-bucket batches, and a verify
    task comparing its pairs in many rounds: the same outputs and counts."""
    paths, ref = synthetic
    monkeypatch.setattr(edges, "_PAIRS_PER_CHUNK", 40)  # many sink.add calls
    monkeypatch.setattr(pairs, "_FLUSH_PAIRS", 50)
    monkeypatch.setattr(verify, "_VERIFY_PAIRS", 70)
    plan = plan_clusters(paths, tmp_path / "w", CFG, partitions=3, verify_buckets=4, sidecar_of=lambda p: str(tmp_path / (Path(p).stem + ".lsh")))
    written = sum(partition_edges(plan, i)["pairs_written"] for i in range(plan.partitions))
    with pa.ipc.open_file(pa.OSFile(plan.pairs_path(0), "rb")) as reader:
        assert reader.num_record_batches > 2 * plan.verify_buckets  # several flushes of V batches
    assert written > 0
    for j in range(plan.verify_buckets):
        verify_pairs(plan, j)
    finish_clusters(plan)
    assert _outputs(tmp_path / "w") == ref


def test_stale_sidecar_is_rebuilt(tmp_path: Path) -> None:
    """A sidecar made with other band settings (or from another file) is written again."""
    docs = [Doc(f"c4/{i:04d}", "c4", t) for i, t in enumerate(c4_texts()[:30])] + [Doc("c4/dup", "c4", c4_texts()[0])]
    paths = write_shards(docs, tmp_path / "in", CFG, shards=1)
    store = Store(*url_to_fs("/"), "/")
    other = DedupConfig(bands=32, rows=4)
    cluster(paths, tmp_path / "a", other, store=store, sidecar_store=store, sidecar_of=sidecar_path)
    assert read_footer(store, sidecar_path(str(paths[0])))["bands"] == 32  # type: ignore[index]
    res = cluster(paths, tmp_path / "b", CFG, store=store, sidecar_store=store, sidecar_of=sidecar_path)
    assert read_footer(store, sidecar_path(str(paths[0])))["bands"] == 16  # type: ignore[index]
    assert res.n_clusters == 1


def test_partition_count_follows_the_memory_budget() -> None:
    assert choose_partitions(0, 1024) == 1
    # a small budget binds: fewer bytes, more partitions
    assert 32 < choose_partitions(16_000_000 * 16, 512) < choose_partitions(16_000_000 * 16, 448) < choose_partitions(16_000_000 * 16, 400)
    # otherwise the row cap does (at most 4M band rows a partition), whatever the budget
    assert choose_partitions(16_000_000 * 16, 1024) == choose_partitions(16_000_000 * 16, 4096) == 64
    # the verify stage's pair buckets: the same rule with a cap of 8M band rows
    assert choose_partitions(16_000_000 * 16, 4096, max_rows=_VERIFY_BAND_ROWS) == 32
    assert choose_partitions(10**11, 1024) == FINE_BUCKETS
    assert choose_partitions(1_000_000 * 16, 1024, workers=2) % 2 == 0
    assert choose_partitions(10**9 * 16, 256) == FINE_BUCKETS
    with pytest.raises(ValueError):
        DedupConfig(cluster_memory_mb=10)


def test_pool_map_runs_in_order() -> None:
    assert pool_map(1)(lambda plan, i: {"i": i}, None, [2, 0, 1]) == [{"i": 2}, {"i": 0}, {"i": 1}]  # type: ignore[arg-type]
    assert np.all(np.diff([1, 2]) > 0)


def test_bench_summary_takes_the_best_run_of_each_size_and_worker_count() -> None:
    run = lambda d, w, s, sha="x": {"docs": d, "workers": w, "seconds": s, "output_sha256": sha}  # noqa: E731
    runs = [run(10**6, 1, 1.5), run(10**6, 1, 1.2), run(10**6, 2, 1.0), run(4 * 10**6, 1, 6.0), run(4 * 10**6, 2, 4.0, "y"), run(4 * 10**6, 2, 3.0)]
    s = _bench().summary(runs)  # type: ignore[attr-defined]
    assert s["best_seconds"] == {"1000000/1w": 1.2, "1000000/2w": 1.0, "4000000/1w": 6.0, "4000000/2w": 3.0}
    assert s["seconds_per_million"]["4000000/1w"] == 1.5
    assert s["per_million_ratio_to_smallest"] == {"1000000/1w": 1.0, "1000000/2w": 1.0, "4000000/1w": 1.25, "4000000/2w": 0.75}
    assert s["speedup_over_1_worker"] == {"1000000/2w": 1.2, "4000000/2w": 2.0}
    assert s["outputs_identical"] == {"1000000": True, "4000000": False}


def test_started_pool_has_imported_the_cluster_tasks() -> None:
    pool = pool_map(2)
    try:
        pool.start()
        # a builtin (pickled by name), so that the worker imports nothing of ours to run it
        loaded = pool._started().submit(eval, "set(__import__('sys').modules)").result()
    finally:
        pool.close()
    assert {"pipeline.dedup.edges", "pipeline.dedup.verify", "pipeline.dedup.components"} <= loaded


def test_many_clustered_documents_take_output_ranges_with_one_worker(
    monkeypatch: pytest.MonkeyPatch, synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path
) -> None:
    paths, ref = synthetic
    monkeypatch.setattr(components, "_OUTPUT_GROUP_DOCS", 500)
    cluster(paths, tmp_path / "w", CFG)
    assert _outputs(tmp_path / "w") == ref


def test_each_candidate_pair_is_compared_once_whatever_the_partitions(
    synthetic: tuple[list[Path], tuple[bytes, bytes, dict[str, object]]], tmp_path: Path
) -> None:
    """A pair whose shared band keys fall in k partitions is found k times but compared once, in
    its pair bucket's verify task: the comparisons (the phase's main cost, n_comparisons) do not
    grow with the partition count; the pair is counted once and linked once whatever k."""
    paths, ref = synthetic
    one = cluster(paths, tmp_path / "p1", CFG, partitions=1)
    many = cluster(paths, tmp_path / "p64", CFG, partitions=64, verify_buckets=16)
    assert 0 < one.n_candidate_pairs <= one.n_comparisons == many.n_comparisons
    assert "n_comparisons" not in json.loads((tmp_path / "p64" / "cluster_stats.json").read_text())
    assert _outputs(tmp_path / "p1") == _outputs(tmp_path / "p64") == ref
