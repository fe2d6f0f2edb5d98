"""The report's sections on the corpus itself: (a) sizes, (b) why byte sizes mislead, (c) the funnel.

Every number is read from the stats.json document (`stats`) or derived from it by a formula written
next to it; published figures come from pipeline/report/references.py with their citations. Nothing here
reads the data files, so `curate report OUT` works from stats.json alone.
"""

from __future__ import annotations

from typing import Any

from pipeline.report import references as ref
from pipeline.report import plots
from pipeline.report.render import NA, Para, Section, Table, big, code, count, missing, pct, ratio, sig
from pipeline.stats import STAGES

STAGE_ORDER = STAGES  # pipeline order, shared with stats.json
EN, ZH = "en", "zh"


def _size_row(label: str, lang: str, s: dict[str, Any]) -> list[str]:
    return [
        label, lang, count(s["docs"]), count(s["bytes"]), count(s["chars"]), count(s["words"]), count(s["tokens"]),
        ratio(s["bytes_per_char"]), ratio(s["chars_per_token"]), ratio(s["bytes_per_token"]), ratio(s["tokens_per_word"]),
    ]  # fmt: skip


def _stages(stats: dict[str, Any]) -> list[str]:
    return sorted(stats["stages"], key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s))


def sizes(stats: dict[str, Any], enc: str) -> Section:
    """(a) How big is each curated corpus in bytes, characters, words and tokens?"""
    sec = Section("sizes", "(a) How big is each corpus? Documents, bytes, characters, words and tokens per source and language")
    t = stats["sizes"]["total"]
    sec.blocks.append(
        Para(
            f"The curated corpus (the kept documents in the final shards) holds {count(t['docs'])} documents: "
            f"{count(t['bytes'])} UTF-8 bytes, {count(t['chars'])} characters (Unicode code points), {count(t['words'])} words "
            f"(regex words in space-delimited scripts, jieba words in Han runs) and {count(t['tokens'])} BPE tokens ({code(enc)})."
        )
    )
    rows = [_size_row(code(src), code(lang), s) for src, langs in sorted(stats["sizes"]["by_source"].items()) for lang, s in sorted(langs.items())]
    rows += [_size_row("**all sources**", code(lang), s) for lang, s in sorted(stats["sizes"]["by_lang"].items())]
    rows.append(_size_row("**total**", "all", t))
    header = ["source", "lang", "documents", "UTF-8 bytes", "characters", "words", "BPE tokens", "bytes/char", "chars/token", "bytes/token", "tokens/word"]
    sec.blocks.append(Table(header, rows, "Source: stats.json `sizes.by_source`, `sizes.by_lang`, `sizes.total` (ratios as stored there: totals divided, 4 decimals)."))
    if rows[:-1]:
        sec.blocks.append(plots.as_plot("sizes", plots.fig_sizes(stats), "corpus size per source and language in bytes, characters, words and tokens. Source: stats.json `sizes.by_source`."))
        sec.blocks.append(plots.as_plot("ratios", plots.fig_ratios(stats), "bytes/char, chars/token, bytes/token and tokens/word per source and language. Source: stats.json `sizes.by_source`."))
    return sec


def published_estimates(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """GPT-3's and ERNIE 3.0's byte sizes converted with this run's measured per-language ratios:
    estimated tokens = bytes / bytes_per_token, estimated characters = bytes / bytes_per_char."""
    by_lang = stats["sizes"]["by_lang"]
    out = []
    for corpus, size, n_bytes, tokens in (
        ("GPT-3, Common Crawl", "570 GB", ref.GPT3_CC_BYTES, ref.GPT3_CC_TOKENS),
        ("ERNIE 3.0", "4 TB", ref.ERNIE3_BYTES, None),
    ):
        est: dict[str, float | None] = {}
        chars: dict[str, float | None] = {}
        for lang in (EN, ZH):
            s = by_lang.get(lang)
            if s is None:
                continue
            est[lang] = n_bytes / s["bytes_per_token"] if s["bytes_per_token"] else None
            chars[lang] = n_bytes / s["bytes_per_char"] if s["bytes_per_char"] else None
        out.append({"corpus": corpus, "size": size, "bytes": n_bytes, "published_tokens": tokens, "estimates": est, "chars": chars})
    return out


def bytes_mislead(stats: dict[str, Any], enc: str) -> Section:
    """(b) Why do byte sizes mislead across languages?"""
    sec = Section("bytes", "(b) Why byte sizes mislead across languages")
    by_lang = stats["sizes"]["by_lang"]
    en, zh = by_lang.get(EN), by_lang.get(ZH)
    rows_data = published_estimates(stats)
    implied = ref.GPT3_CC_BYTES / ref.GPT3_CC_TOKENS
    if en and en["bytes_per_token"]:
        est = ref.GPT3_CC_BYTES / en["bytes_per_token"]
        sec.blocks.append(
            Para(
                f"**The GPT-3 inconsistency.** GPT-3's Common Crawl part is 570 GB after filtering and \"roughly equivalent to "
                f"400 billion byte-pair-encoded tokens\" ({ref.BROWN_2020}): {ratio(implied)} bytes per token. This run measures "
                f"{ratio(en['bytes_per_token'])} UTF-8 bytes per BPE token for its English text ({code(enc)}), so 570 GB of such text "
                f"would be about {big(est)} tokens, {pct(est / ref.GPT3_CC_TOKENS)} of the published 400B; the published count is "
                f"{sig(ref.GPT3_CC_TOKENS / est)}x this estimate. The paper does not give the basis of the conversion (which bytes, "
                "which tokenizer). Both figures are shown side by side below: byte sizes and token counts from different sources "
                "cannot be compared without a measured ratio."
            )
        )
    else:
        sec.blocks.append(Para(f"This run kept no {code(EN)} documents, so GPT-3's 570 GB cannot be converted with a measured English ratio."))
    if en and zh and en["bytes_per_char"] and zh["bytes_per_char"]:
        below = " (a Han character is three bytes in UTF-8; punctuation, digits and Latin letters in Chinese text pull the mean below that)" if zh["bytes_per_char"] < 3 else " (a Han character is three bytes in UTF-8)"
        sec.blocks.append(
            Para(
                f"**Bytes per character.** This run's Chinese text measures {ratio(zh['bytes_per_char'])} UTF-8 bytes per character "
                f"against {ratio(en['bytes_per_char'])} for English: {sig(zh['bytes_per_char'] / en['bytes_per_char'])}x the bytes for "
                f"the same number of characters{below}."
            )
        )
    if zh and zh["words"]:
        en_part = f" against {ratio(en['tokens_per_word'])} for an English word" if en else ""
        sec.blocks.append(
            Para(
                f"**Words need segmentation.** Chinese is written without spaces between words: jieba splits this run's "
                f"{count(zh['chars'])} Chinese characters into {count(zh['words'])} words ({sig(zh['chars'] / zh['words'])} "
                f"characters per word), and a Chinese word is {ratio(zh['tokens_per_word'])} BPE tokens{en_part}. A word count "
                "depends on the segmenter as much as on the text."
            )
        )
    groups = [(s["bytes_per_token"], src, lang) for src, langs in stats["sizes"]["by_source"].items() for lang, s in langs.items() if s["bytes_per_token"]]
    if en and zh and groups:
        lo, hi = min(groups), max(groups)
        sec.blocks.append(
            Para(
                f"**Tokens per byte differ by language and tokenizer.** {code(enc)} packs {ratio(en['bytes_per_token'])} bytes "
                f"({ratio(en['chars_per_token'])} characters) of English into one token but {ratio(zh['bytes_per_token'])} bytes "
                f"({ratio(zh['chars_per_token'])} characters) of Chinese; across this run's sources bytes/token ranges from "
                f"{ratio(lo[0])} ({code(lo[1] + '/' + lo[2])}) to {ratio(hi[0])} ({code(hi[1] + '/' + hi[2])}). Another tokenizer "
                "gives other ratios: a byte size converts to tokens only with the ratio measured for its language and tokenizer."
            )
        )
    if zh and zh["bytes_per_token"] and zh["bytes_per_char"]:
        en_part = f", or {big(ref.ERNIE3_BYTES / en['bytes_per_token'])} tokens at the English ratio" if en and en["bytes_per_token"] else ""
        sec.blocks.append(
            Para(
                f"**ERNIE 3.0.** Its 4 TB ({ref.SUN_2021}) would be about {big(ref.ERNIE3_BYTES / zh['bytes_per_token'])} tokens and "
                f"{big(ref.ERNIE3_BYTES / zh['bytes_per_char'])} characters at this run's Chinese ratios{en_part}; the paper gives no "
                "token count, and the 4 TB hold a knowledge graph as well as plain text."
            )
        )
    header = ["published corpus", "published size", "published tokens", "ratio measured on", "bytes/token", "estimated tokens", "bytes/char", "estimated characters", "published / estimated tokens"]
    rows = [["GPT-3, Common Crawl", "570 GB", big(ref.GPT3_CC_TOKENS), "implied by the paper (570 GB / 400B)", ratio(implied), big(ref.GPT3_CC_TOKENS), NA, NA, NA]]
    for r in rows_data:
        for lang, est in sorted(r["estimates"].items()):
            pub = r["published_tokens"]
            rows.append([
                r["corpus"], r["size"], big(pub), f"this run's {code(lang)} text", ratio(by_lang[lang]["bytes_per_token"]), big(est),
                ratio(by_lang[lang]["bytes_per_char"]), big(r["chars"][lang]), sig(pub / est) if pub and est else NA,
            ])  # fmt: skip
    sec.blocks.append(
        Table(header, rows, f"Published sizes: {ref.BROWN_2020}; {ref.SUN_2021}. Ratios: stats.json `sizes.by_lang`. Estimated tokens = bytes / bytes_per_token; characters = bytes / bytes_per_char; GB and TB taken as decimal units (the papers do not say).")
    )
    if any(r["estimates"] for r in rows_data):
        sec.blocks.append(
            plots.as_plot("bytes_to_tokens", plots.fig_published_tokens(rows_data), f"published byte sizes as estimated tokens at this run's bytes/token, next to GPT-3's published count. Sources: {ref.BROWN_2020}; {ref.SUN_2021}; stats.json `sizes.by_lang`.")
        )
    return sec


def _stage_row(stage: str, t: dict[str, Any], first: bool) -> list[str]:
    """Tokens are counted from `normalize` on: the first stage has none."""
    tok_in = NA if first else count(t["tokens_in"])
    tok_kept = NA if first else count(t["tokens_kept"])
    tok_share = NA if first or not t["tokens_in"] else pct(t["tokens_kept"] / t["tokens_in"])
    return [
        code(stage), count(t["docs_in"]), count(t["docs_kept"]), count(t["docs_rejected"]),
        count(t["bytes_in"]), count(t["bytes_kept"]), tok_in, tok_kept, tok_share,
    ]  # fmt: skip


def funnel(stats: dict[str, Any]) -> Section:
    """(c) How many documents, bytes and tokens survive each stage, and what share was duplicate?"""
    sec = Section("funnel", "(c) The funnel: what survives each stage, and what share was duplicate")
    stages = _stages(stats)
    if not stages:  # zero-record inputs: a valid, empty run
        sec.blocks.append(Para("No record entered the pipeline (the inputs held none): every stage saw 0 documents."))
        sec.blocks += _duplicates(stats, stages)
        return sec
    first, last = stats["stages"][stages[0]]["total"], stats["stages"][stages[-1]]["total"]
    tok_stage = stages[1] if len(stages) > 1 else stages[0]
    tok_first = stats["stages"][tok_stage]["total"]
    sec.blocks.append(
        Para(
            f"{count(first['docs_in'])} documents ({count(first['bytes_in'])} bytes) entered {code(stages[0])} and "
            f"{count(last['docs_kept'])} ({count(last['bytes_kept'])} bytes) left {code(stages[-1])}: "
            f"{pct(last['docs_kept'] / first['docs_in']) if first['docs_in'] else NA} of the documents. BPE tokens are counted from "
            f"{code(tok_stage)} on: {count(tok_first['tokens_in'])} entered it and {count(last['tokens_kept'])} were kept "
            f"({pct(last['tokens_kept'] / tok_first['tokens_in']) if tok_first['tokens_in'] else NA}), the token total of the final shards."
        )
    )
    header = ["stage", "documents in", "kept", "rejected", "UTF-8 bytes in", "bytes kept", "BPE tokens in", "tokens kept", "tokens kept (%)"]
    rows = [_stage_row(s, stats["stages"][s]["total"], i == 0) for i, s in enumerate(stages)]
    sec.blocks.append(Table(header, rows, "Source: stats.json `stages.<stage>.total`; tokens kept (%) = tokens_kept / tokens_in."))
    reasons = []
    for s in stages:
        t = stats["stages"][s]["total"]
        rb, rt = t.get("rejected_bytes_by_reason"), t.get("rejected_tokens_by_reason")
        for reason, n in sorted(t["rejected_by_reason"].items()):
            tok = rt.get(reason) if rt is not None else None
            share = pct(tok / t["tokens_in"]) if tok is not None and t["tokens_in"] else NA
            reasons.append([code(s), code(reason), count(n), count(rb.get(reason) if rb is not None else None), count(tok), share])
    if reasons:
        sec.blocks.append(
            Table(["stage", "drop reason", "documents", "UTF-8 bytes", "BPE tokens", "share of the stage's tokens in"], reasons,
                  "Source: stats.json `stages.<stage>.total.rejected_by_reason`, `rejected_bytes_by_reason`, `rejected_tokens_by_reason`.")
        )  # fmt: skip
    sources = sorted({src for s in stages for src in stats["stages"][s]["by_source"]})
    for unit, label, from_stage in (("docs", "documents", 0), ("tokens", "BPE tokens", 1)):
        use = stages[from_stage:]
        if not use:
            continue
        rows = []
        for src in sources:
            blocks = [stats["stages"][s]["by_source"].get(src) for s in use]
            start = blocks[0][f"{unit}_in"] if blocks[0] else 0
            kept = [b[f"{unit}_kept"] if b else 0 for b in blocks]
            rows.append([code(src), count(start), *map(count, kept), pct(kept[-1] / start) if start else NA])
        head = ["source", f"{label} into {code(use[0])}", *(f"after {code(s)}" for s in use), "kept (%)"]
        sec.blocks.append(Table(head, rows, f"{label[0].upper() + label[1:]} per source after each stage. Source: stats.json `stages.<stage>.by_source` ({unit}_in, {unit}_kept)."))
    sec.blocks.append(plots.as_plot("funnel", plots.fig_funnel(stats, stages), "share of each stage's input rejected there, in documents, UTF-8 bytes and BPE tokens. Source: stats.json `stages.<stage>.total`."))
    sec.blocks += _duplicates(stats, stages)
    return sec


def _duplicates(stats: dict[str, Any], stages: list[str]) -> list[Any]:
    dup = stats.get("duplicates")
    if dup is None:
        return [missing("duplicates")]
    tot = dup["total"]
    n = tot["within"] + tot["across"]
    dedup = stats["stages"].get("dedup", {}).get("total")
    kinds = ", ".join(f"{count(k)} {code(r)}" for r, k in sorted(dedup["rejected_by_reason"].items())) if dedup else NA
    tokens = sum(dedup["rejected_tokens_by_reason"].values()) if dedup and "rejected_tokens_by_reason" in dedup else None
    out: list[Any] = [
        Para(
            f"**Duplicates.** {count(n)} of the {count(tot['docs_in'])} documents entering dedup were duplicates "
            f"({pct(n / tot['docs_in']) if tot['docs_in'] else NA}; {kinds}): {count(tot['within'])} of a keeper in the same source "
            f"({pct(tot['within_rate'])}) and {count(tot['across'])} of a keeper in another source ({pct(tot['across_rate'])}). "
            f"They held {count(tokens)} BPE tokens."
        )
    ]
    rows = [[code(s), count(b["docs_in"]), count(b["within"]), count(b["across"]), pct(b["within_rate"]), pct(b["across_rate"])] for s, b in sorted(dup["by_source"].items())]
    rows.append(["**total**", count(tot["docs_in"]), count(tot["within"]), count(tot["across"]), pct(tot["within_rate"]), pct(tot["across_rate"])])
    out.append(Table(["source", "documents entering dedup", "within source", "across sources", "within rate", "across rate"], rows, "Source: stats.json `duplicates.by_source`, `duplicates.total`."))
    pairs = dup["pairs"]
    keepers = sorted({k for ks in pairs.values() for k in ks})
    if pairs:
        matrix = [[code(src), *(count(pairs[src].get(k, {}).get("docs", 0)) for k in keepers)] for src in sorted(pairs)]
        out.append(Table(["dropped document's source \\ keeper's source", *map(code, keepers)], matrix, "The duplicate matrix (documents): diagonal = within a source, off-diagonal = across sources. Source: stats.json `duplicates.pairs`."))
        detail = [[code(src), code(k), count(u["docs"]), count(u["bytes"]), count(u["tokens"])] for src in sorted(pairs) for k, u in sorted(pairs[src].items())]
        out.append(Table(["dropped document's source", "keeper's source", "documents", "UTF-8 bytes", "BPE tokens"], detail, "Source: stats.json `duplicates.pairs`."))
    else:
        out.append(Para("No document was dropped as a duplicate in this run."))
    if dup["by_source"]:
        out.append(plots.as_plot("duplicates", plots.fig_duplicates(stats), "share of each source's documents dropped as duplicates, within and across sources. Source: stats.json `duplicates.by_source`."))
    return out
