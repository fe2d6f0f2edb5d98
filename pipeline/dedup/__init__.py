"""Near- and exact-duplicate detection (global across sources): script-aware shingles,
datasketch-compatible MinHash signatures and the per-shard dedup sidecar (tag), LSH banding +
verification per band partition as parallel tasks + components over the edges (cluster), and the
keeper rule (select).

    pipeline.dedup.minhash.signatures(texts, cfg) -> (n, num_perm) uint32
    pipeline.dedup.keys.case_sensitive_key_hash(text) -> str          (the key_hash_cs column)
    pipeline.dedup.sidecar.write_sidecar(store, staged, out, path, cfg)  (tag: keys in fine buckets)
    pipeline.dedup.plan.plan_clusters(paths, work_dir, cfg) -> ClusterPlan  (cluster: the plan)
    pipeline.dedup.edges.partition_edges(plan, i)      (one task per band partition: its edges)
    pipeline.dedup.components.finish_clusters(plan) -> ClusterResult  (components + outputs)
    pipeline.dedup.pool.ProcessMap(workers)            (their map_fn outside Prefect: a process pool)
    pipeline.dedup.cluster.cluster(paths, work_dir, cfg) -> ClusterResult  (the three in a row)
    pipeline.dedup.keepers.choose_keepers(members, source_priority) -> pa.Table

Nothing is re-exported here: `cluster` is both a submodule and its main function, and a package
attribute of that name would shadow the module for `import pipeline.dedup.cluster as ...`.
"""
