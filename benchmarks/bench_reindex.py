"""Reindex under load: shoppers' searches keep answering while the catalogue is rebuilt into
a new collection and the served name is switched to it.

Builds a first collection from a KAGL slice (served by the alias `kagl`), then runs
`reindex_catalogue` on the same slice while `--clients` threads search the alias without
pause (hybrid text search, real encoders, the embedded engine). Counts answered and failed
searches and their latency before the reindex, while it builds, and after the switch; the
"before" phase is the baseline of the same run. Writes benchmarks/results/reindex.json.

Usage: python benchmarks/bench_reindex.py [--limit 2000] [--clients 2] [--before 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.index.edge import EdgeIndex  # noqa: E402
from assistant.reindex import reindex_catalogue  # noqa: E402
from assistant.retrieval.search import Retriever, SearchRequest  # noqa: E402
from assistant.runtime import load_encoders  # noqa: E402
from benchmarks.common import write_result  # noqa: E402

QUERIES = ["black watch for men", "red dress", "running shoes", "blue jeans for women", "leather handbag", "white t-shirt"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalogue", type=Path, default=Path("../shared/data/kagl/products.csv"))
    ap.add_argument("--limit", type=int, default=2000, help="products in the slice")
    ap.add_argument("--clients", type=int, default=2, help="threads searching without pause")
    ap.add_argument("--before", type=float, default=10.0, help="seconds of baseline before the reindex")
    ap.add_argument("--after", type=float, default=10.0, help="seconds measured after the switch")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reindex.json")
    a = ap.parse_args()

    cat = load_catalogue(a.catalogue, limit=a.limit)
    enc = load_encoders(Settings())
    with tempfile.TemporaryDirectory() as tmp:
        index = EdgeIndex(Path(tmp) / "index")
        reindex_catalogue(cat, index, "kagl", enc, "bench", progress=False)
        retriever = Retriever(index, "kagl", enc.clip, enc.text, enc.sparse)
        phase = ["before"]
        samples: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        failures: dict[str, list[str]] = {"before": [], "during": [], "after": []}
        stop = threading.Event()

        def client(n: int) -> None:
            i = n
            while not stop.is_set():
                where = phase[0]
                t = time.perf_counter()
                try:
                    resp = retriever.search(SearchRequest(text=QUERIES[i % len(QUERIES)], k=10))
                    if not resp.hits:
                        raise RuntimeError("no hits")
                    samples[where].append(time.perf_counter() - t)
                except Exception as e:  # noqa: BLE001 - every failure is the figure this benchmark reports
                    failures[where].append(f"{type(e).__name__}: {e}")
                i += 1

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(a.clients)]
        for t in threads:
            t.start()
        time.sleep(a.before)
        phase[0] = "during"
        t0 = time.perf_counter()
        report = reindex_catalogue(cat, index, "kagl", enc, "bench", progress=False)
        reindex_s = time.perf_counter() - t0
        phase[0] = "after"
        time.sleep(a.after)
        stop.set()
        for t in threads:
            t.join(60)
        index.close()

    rows = []
    base = float(np.percentile(samples["before"], 50)) if samples["before"] else float("nan")
    for where in ("before", "during", "after"):
        s = np.array(samples[where]) * 1000
        p50 = float(np.percentile(s, 50)) if len(s) else float("nan")
        p95 = float(np.percentile(s, 95)) if len(s) else float("nan")
        rows.append({"phase": where, "answered": len(s), "failed": len(failures[where]), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                     "p50_vs_before": round(p50 / (base * 1000), 2), "first_failures": failures[where][:3]})  # fmt: skip
    print(f"reindex of {len(cat.products)} products under {a.clients} searching clients: {reindex_s:.1f} s; {report.summary()}")
    print(f"{'phase':8} {'answered':>9} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'p50 vs before':>14}")
    for r in rows:
        print(f"{r['phase']:8} {r['answered']:>9} {r['failed']:>7} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p50_vs_before']:>14}")
    write_result(a.out, {"products": len(cat.products), "clients": a.clients, "reindex_s": round(reindex_s, 1), "phases": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
