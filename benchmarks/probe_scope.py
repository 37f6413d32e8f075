"""Where the out-of-scope threshold comes from: off-topic questions vs product words.

For each query, prints the best sentence-vector cosine among the hybrid hits, whether any
keyword (BM25) matched, and whether the response counts as a weak match (out of scope).
`assistant.retrieval.search.WEAK_TEXT_SCORE` sits between the two groups. Writes JSON.

Usage: python benchmarks/probe_scope.py [--index PATH] [--collection NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retrieval.search import WEAK_TEXT_SCORE, SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402

OFF_TOPIC = [
    "what's the weather like tomorrow", "do you sell cars", "pizza", "tell me a joke",
    "book a flight to paris", "iphone", "smartphone case", "chair",
]  # fmt: skip
PRODUCT_WORDS = ["sneakers", "hoodie", "flip flops", "trainers", "kurta", "jeans", "sunglasses", "perfume", "laptop", "football"]


def main() -> None:
    ap = argparse.ArgumentParser()
    add_index_options(ap)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scope_probe.json")
    a = ap.parse_args()
    retriever = build_retriever(settings_from(a))
    rows = []
    for group, queries in (("off-topic", OFF_TOPIC), ("product words", PRODUCT_WORDS)):
        for q in queries:
            resp = retriever.search(SearchRequest(text=q, k=5))
            text = [e.score for h in resp.hits for e in h.evidence if e.modality == "text"]
            keyword = any(e.modality == "bm25" for h in resp.hits for e in h.evidence)
            rows.append({"group": group, "query": q, "best_text_cosine": max(text, default=None), "keyword": keyword, "weak": resp.weak_match()})
    print(f"threshold {WEAK_TEXT_SCORE}\n{'group':<15}{'query':<36}{'best cosine':>12}{'keyword':>9}{'weak':>6}")
    for r in rows:
        cos = f"{r['best_text_cosine']:.3f}" if r["best_text_cosine"] is not None else "-"
        print(f"{r['group']:<15}{r['query']:<36}{cos:>12}{r['keyword']!s:>9}{r['weak']!s:>6}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, {"threshold": WEAK_TEXT_SCORE, "rows": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
