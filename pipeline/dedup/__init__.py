"""Near- and exact-duplicate detection (global across sources): script-aware shingles,
datasketch-compatible MinHash signatures and the per-shard dedup sidecar (tag), LSH banding per
band partition and verification per pair bucket as parallel tasks + components over the edges
(cluster), and the keeper rule (select).

    pipeline.dedup.minhash.signatures(texts, cfg) -> (n, num_perm) uint32
    pipeline.dedup.keys.case_sensitive_key_hash(text) -> str          (the key_hash_cs column)
    pipeline.dedup.sidecar.write_sidecar(store, staged, out, path, cfg)  (tag: keys in fine buckets)
    pipeline.dedup.plan.plan_clusters(paths, work_dir, cfg) -> ClusterPlan  (cluster: the plan)
    pipeline.dedup.edges.partition_edges(plan, i)      (one task per band partition: candidate pairs)
    pipeline.dedup.verify.verify_pairs(plan, j)        (one task per pair bucket: each pair once)
    pipeline.dedup.cluster.cluster_tasks(plan, map_fn, seconds)  (the two mapped stages)
    pipeline.dedup.components.finish_clusters(plan) -> ClusterResult  (components + outputs)
    pipeline.dedup.pool.ProcessMap(workers)            (their map_fn outside Prefect: a process pool)
    pipeline.dedup.cluster.cluster(paths, work_dir, cfg) -> ClusterResult  (all of it)
    pipeline.dedup.keepers.choose_keepers(members, source_priority) -> pa.Table

Nothing is re-exported here: `cluster` is both a submodule and its main function, and a package
attribute of that name would shadow the module for `import pipeline.dedup.cluster as ...`.
"""
