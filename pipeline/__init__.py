"""curate: dataset curation for mixed English/Chinese LM training data (tag -> cluster -> select)."""

__version__ = "0.3.0"
