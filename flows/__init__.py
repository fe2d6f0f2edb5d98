"""Prefect flows: the only package that imports prefect. A flow is a thin map of library calls over shards."""
