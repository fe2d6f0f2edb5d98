"""Published corpus sizes and data-budget rules the report compares this run with, each with its citation.

Kept as data (not prose inside the report) so every published number the report prints has one place
it comes from, and the tests can tell a published figure from a measured one. Wording follows
/work/shared/docs/references.md; GB and TB are taken as decimal (10**9 and 10**12 bytes): the papers
do not say, and binary units would change the estimates by 7% and 10%.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 10**9
TB = 10**12


@dataclass(frozen=True)
class Reference:
    """One published figure: what it measures, the number(s) the report computes with, and where it is from."""

    key: str
    subject: str
    figure: str
    citation: str


BROWN_2020 = "Brown et al. 2020, Language Models are Few-Shot Learners, sec. 2.2 and Table 2.2"
SUN_2021 = "Sun et al. 2021, ERNIE 3.0, arXiv 2107.02137, abstract"
WANG_2021 = "Wang et al. 2021, ERNIE 3.0 Titan, arXiv 2112.12731"
HOFFMANN_2022 = "Hoffmann et al. 2022, arXiv 2203.15556, Table 3"
KOMATSUZAKI_2019 = "Komatsuzaki 2019, One Epoch Is All You Need, arXiv 1906.06669"
XUE_2023 = "Xue et al. 2023, To Repeat or Not To Repeat (token crisis), arXiv 2305.13230"
MUENNIGHOFF_2023 = "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv 2305.16264"
ZHANG_2022 = "Zhang et al. 2022 (OPT), arXiv 2205.01068; Brown et al. 2020"

#: GPT-3's Common Crawl part after filtering, and the token count the paper gives for it.
GPT3_CC_BYTES = 570 * GB
GPT3_CC_TOKENS = 400 * 10**9
#: ERNIE 3.0's training corpus (plain text plus a knowledge graph).
ERNIE3_BYTES = 4 * TB
#: Training tokens per parameter: compute-optimal (Chinchilla) and the one-epoch regime.
CHINCHILLA_TOKENS_PER_PARAM = 20.0
ONE_EPOCH_TOKENS_PER_PARAM = 5.0
#: Epochs of repeated data that change the loss very little.
MAX_USEFUL_EPOCHS = 4.0

REFERENCES: tuple[Reference, ...] = (
    Reference(
        "gpt3_cc",
        "GPT-3, Common Crawl part",
        '45 TB of compressed plaintext before filtering, 570 GB after, "roughly equivalent to 400 billion '
        'byte-pair-encoded tokens" (Common Crawl only, not the whole mix)',
        BROWN_2020,
    ),
    Reference(
        "gpt3_mix",
        "GPT-3 training mix",
        "Common Crawl 410B tokens (60% weight, 0.44 epochs over 300B training tokens); WebText2 19B (22%, 2.9); "
        "Books1 12B (8%, 1.9); Books2 55B (8%, 0.43); Wikipedia 3B (3%, 3.4)",
        BROWN_2020,
    ),
    Reference(
        "ernie3",
        "ERNIE 3.0",
        '10B parameters trained "on a 4TB corpus consisting of plain texts and a large-scale knowledge graph"',
        SUN_2021,
    ),
    Reference("ernie3_titan", "ERNIE 3.0 Titan", "260B parameters, built on the ERNIE 3.0 framework and corpus", WANG_2021),
    Reference(
        "chinchilla",
        "Chinchilla rule",
        "compute-optimal: ~20 training tokens per parameter (1B -> 20.2B tokens, 10B -> 205.1B, 67B -> 1.5T, "
        "175B -> 3.7T); Chinchilla = 70B parameters on 1.4T tokens",
        HOFFMANN_2022,
    ),
    Reference(
        "one_epoch",
        "One epoch is all you need",
        "train a single epoch on more data; tokens per parameter near 5 was the most efficient ratio in that "
        "setting (optimal range 1.8-11.5); 3.3-5.1x combined speed-up",
        KOMATSUZAKI_2019,
    ),
    Reference(
        "data_constrained",
        "Data-constrained scaling",
        "up to ~4 epochs of repeated data change the loss very little",
        MUENNIGHOFF_2023,
    ),
    Reference(
        "token_crisis",
        "Token crisis",
        "repeating pre-training data for more epochs causes overfitting and degradation; dropout is the one "
        "regulariser that helps",
        XUE_2023,
    ),
    Reference("model_sizes", "Model sizes often compared", "OPT / GPT-3 family: 125M, 1.3B, 175B parameters", ZHANG_2022),
)

#: Citation of a tokens-per-parameter ratio the report is configured with (other values: "configured").
TOKENS_PER_PARAM_SOURCES: dict[float, tuple[str, str]] = {
    CHINCHILLA_TOKENS_PER_PARAM: ("compute-optimal, Chinchilla", HOFFMANN_2022),
    ONE_EPOCH_TOKENS_PER_PARAM: ("one epoch", KOMATSUZAKI_2019),
}


def short(citation: str) -> str:
    """Author and year of a citation ("Brown et al. 2020"), for plot footers."""
    return citation.split(",")[0]


def tokens_per_param_label(ratio: float) -> tuple[str, str]:
    """(short name, citation) of a tokens-per-parameter ratio; a ratio no paper gives is the user's own."""
    return TOKENS_PER_PARAM_SOURCES.get(float(ratio), ("configured", "run config `report.tokens_per_param`"))
