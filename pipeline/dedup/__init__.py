"""Near- and exact-duplicate detection (global across sources): script-aware shingles,
datasketch-compatible MinHash signatures (tag), LSH banding + verification + union-find over
Parquet partitions (cluster), and the keeper rule (select).

    pipeline.dedup.minhash.signatures(texts, cfg) -> (n, num_perm) uint32
    pipeline.dedup.keys.case_sensitive_key_hash(text) -> str          (the key_hash_cs column)
    pipeline.dedup.cluster.cluster(paths, work_dir, cfg) -> ClusterResult
    pipeline.dedup.keepers.choose_keepers(members, source_priority) -> pa.Table

Nothing is re-exported here: `cluster` is both a submodule and its main function, and a package
attribute of that name would shadow the module for `import pipeline.dedup.cluster as ...`.
"""
