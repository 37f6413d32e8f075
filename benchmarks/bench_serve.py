"""Serving load benchmark: many concurrent WebSocket sessions running scripted text turns.

Starts `shop-assistant serve` as its own process (on the ingested index, with the configured
LLM: default the embedded model; rate limits off, since every simulated shopper shares one
address), then, from this process, first one session alone (the baseline), then N sessions
at once, each replaying the text turns of `benchmarks/conversations/kagl.jsonl` for the given
duration: shoppers arrive spread over one think time and wait 0.5x-1.5x of it between an
answer and their next message (seeded, so runs are comparable). Per turn it times the first product card, the first
text and the end of the answer, from the moment the message is sent. Reports throughput,
latency percentiles, errors, dropped sockets, how many answers the model worded and how many
fell back to templates because it was busy, the ratio of loaded to baseline latency, and the
server's own per-stage histograms from /metrics. Prints a table, writes JSON.

The server's own stage histograms (the wait for a turn worker, planning, query encoding, the
index, first card, first text) are read before and after each run, so each run reports its own.

Usage: python benchmarks/bench_serve.py [--sessions 50] [--seconds 60] [--think 3 | --think-range 1 2] [--index PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402
from benchmarks.serving import serve_process  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def scripts(paths: list[Path], searches_only: bool = False) -> list[list[str]]:
    """Each conversation's text turns (all of them, or only its searches and refinements)."""
    convs = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]

    def wanted(t: dict) -> bool:
        return "photo" not in t and bool(t.get("user")) and (not searches_only or "search_products" in t.get("tools", []))

    keep = [[t["user"] for t in c["turns"] if wanted(t)] for c in convs]
    return [script for script in keep if script]


Think = tuple[float, float]  # a shopper's pause between an answer and the next message: uniform in [lo, hi] seconds


async def shopper(host: str, script: list[str], until: float, think: Think, turns: list[dict], drops: list[str], rng: random.Random) -> None:
    try:
        async with connect(f"ws://{host}/v1/chat", max_size=None, open_timeout=60, ping_interval=None) as ws:
            json.loads(await ws.recv())  # session.created
            # Shoppers arrive over one think time and pause between messages, as people do; all
            # sending at the same instant would measure a queue no shop sees.
            await asyncio.sleep(rng.uniform(0, think[1]))
            n = 0
            while time.perf_counter() < until:
                text = script[n % len(script)]
                n += 1
                sent = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text}))
                row: dict = {"text": text, "errors": [], "notices": []}
                while True:
                    ev = json.loads(await ws.recv())
                    kind, now = ev["type"], time.perf_counter() - sent
                    if kind == "data-products" and "card_s" not in row:
                        row["card_s"] = now
                    elif kind == "text-delta" and "text_s" not in row:
                        row["text_s"] = now
                    elif kind == "error":
                        row["errors"].append(ev["code"])
                    elif kind == "data-notice":
                        row["notices"].append(ev["data"]["code"])
                    elif kind == "finish":
                        row["total_s"] = now
                        break
                turns.append(row)
                await asyncio.sleep(rng.uniform(*think))
    except (ConnectionClosed, OSError) as e:
        drops.append(f"{type(e).__name__}: {e}")


async def load(host: str, sessions: int, seconds: float, think: Think, convs: list[list[str]]) -> tuple[list[dict], list[str], float]:
    turns: list[dict] = []
    drops: list[str] = []
    start = time.perf_counter()
    until = start + seconds
    rng = random.Random(0)
    await asyncio.gather(*(shopper(host, convs[i % len(convs)], until, think, turns, drops, rng) for i in range(sessions)))
    return turns, drops, time.perf_counter() - start


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summary(turns: list[dict], drops: list[str], wall: float) -> dict:
    cards = [t["card_s"] for t in turns if "card_s" in t]
    texts = [t["text_s"] for t in turns if "text_s" in t]
    totals = [t["total_s"] for t in turns if "total_s" in t]
    notices = [n for t in turns for n in t["notices"]]
    return {
        "turns": len(turns),
        "turns_per_s": len(turns) / wall,
        "wall_s": wall,
        "first_card_s": {"p50": pct(cards, 50), "p95": pct(cards, 95), "max": max(cards, default=None), "n": len(cards)},
        "first_text_s": {"p50": pct(texts, 50), "p95": pct(texts, 95)},
        "total_s": {"p50": pct(totals, 50), "p95": pct(totals, 95)},
        "error_events": sorted({e for t in turns for e in t["errors"]}),
        "error_count": sum(len(t["errors"]) for t in turns),
        "dropped_sockets": len(drops),
        "drops": drops[:5],
        "model_notices": {code: notices.count(code) for code in sorted(set(notices))},
    }


def histograms(text: str) -> dict[str, dict]:
    """The server's stage histograms from /metrics: per "channel/stage", sum, count and the
    cumulative bucket counts (upper bound -> count)."""
    out: dict[str, dict] = {}
    for line in text.splitlines():
        labels = r'\{channel="(\w+)",(?:le="([^"]+)",)?stage="(\w+)"(?:,le="([^"]+)")?\}'
        m = re.match(r"shop_assistant_stage_seconds_(sum|count|bucket)" + labels + r" ([\d.e+-]+)", line)
        if not m:
            continue
        h = out.setdefault(f"{m[2]}/{m[4]}", {"sum": 0.0, "count": 0.0, "buckets": {}})
        if m[1] == "bucket":
            h["buckets"][float(m[3] or m[5])] = float(m[6])
        else:
            h[m[1]] = float(m[6])
    return out


def bucket_quantile(q: float, cumulative: list[tuple[float, float]], n: float) -> float:
    """The q-quantile of `n` observations from cumulative bucket counts (upper bound, count),
    interpolated inside the bucket as Prometheus's histogram_quantile does."""
    rank, lo, below = q * n, 0.0, 0.0
    for le, c in cumulative:
        if c >= rank:
            return lo if le == float("inf") else lo + (le - lo) * ((rank - below) / max(c - below, 1e-9))
        lo, below = le, c
    return lo


def stage_table(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """Mean, p50 and p95 of each stage between two /metrics reads (so one run's stages are not
    mixed with the baseline's); the percentiles are good to the bucket's width."""
    table = {}
    for key, h in after.items():
        b = before.get(key, {"sum": 0.0, "count": 0.0, "buckets": {}})
        n = h["count"] - b["count"]
        if n <= 0:
            continue
        cum = sorted((le, c - b["buckets"].get(le, 0.0)) for le, c in h["buckets"].items())
        table[key] = {"mean_s": (h["sum"] - b["sum"]) / n, "p50_s": bucket_quantile(0.5, cum, n), "p95_s": bucket_quantile(0.95, cum, n), "n": int(n)}
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="embedded index folder (default: the user data folder)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--think", type=float, default=3.0, help="a shopper waits 0.5x-1.5x this many seconds between an answer and the next message")
    ap.add_argument("--think-range", type=float, nargs=2, metavar=("LO", "HI"), help="or a pause uniform in [LO, HI] seconds (e.g. 1 2)")
    ap.add_argument("--baseline-seconds", type=float, default=30.0)
    ap.add_argument("--conversations", type=Path, nargs="+", default=[HERE / "conversations" / "kagl.jsonl"], help="one or more conversation sets")
    ap.add_argument("--searches-only", action="store_true", help="replay only the searches and refinements (every turn encodes and queries)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "serve.json")
    a = ap.parse_args()
    with serve_process(a.out.with_suffix(".server.log"), a.index) as host:  # the server's access log, kept out of the table
        convs = scripts(a.conversations, a.searches_only)
        think: Think = (a.think_range[0], a.think_range[1]) if a.think_range else (0.5 * a.think, 1.5 * a.think)

        def metrics() -> dict[str, dict]:
            return histograms(httpx.get(f"http://{host}/metrics", timeout=10).text)

        asyncio.run(load(host, 1, 5, (0.0, 0.0), convs))  # warm-up: first-call costs are not a shopper's
        m0 = metrics()
        base = summary(*asyncio.run(load(host, 1, a.baseline_seconds, think, convs)))
        m1 = metrics()
        loaded = summary(*asyncio.run(load(host, a.sessions, a.seconds, think, convs)))
        m2 = metrics()
        healthy = httpx.get(f"http://{host}/healthz", timeout=10).status_code == 200
    base["server_stages"], loaded["server_stages"] = stage_table(m0, m1), stage_table(m1, m2)
    ratio = {
        k: (loaded[k]["p95"] / base[k]["p95"]) if loaded[k]["p95"] and base[k]["p95"] else None for k in ("first_card_s", "first_text_s", "total_s")
    }
    result = {
        "conversations": [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in a.conversations],
        "searches_only": a.searches_only,
        "sessions": a.sessions,
        "seconds": a.seconds,
        "think_s": list(think),
        "baseline": base,
        "loaded": loaded,
        "p95_ratio_loaded_to_baseline": ratio,
        "throughput_ratio_loaded_to_baseline": loaded["turns_per_s"] / base["turns_per_s"] if base["turns_per_s"] else None,
        "healthy_after": healthy,
    }
    header = ["run", "turns", "turns/s", "card p50", "card p95", "text p50", "text p95", "end p95", "errors", "drops"]
    print("\n" + "".join(f"{h:>10}" if i else f"{h:<22}" for i, h in enumerate(header)))
    for name, r in (("1 session (baseline)", base), (f"{a.sessions} sessions", loaded)):
        cells = [r["turns"], f"{r['turns_per_s']:.2f}"]
        cells += [f"{(r[k][q] or 0):.3f}s" for k, q in (("first_card_s", "p50"), ("first_card_s", "p95"), ("first_text_s", "p50"))]
        cells += [f"{(r[k][q] or 0):.3f}s" for k, q in (("first_text_s", "p95"), ("total_s", "p95"))]
        cells += [r["error_count"], r["dropped_sockets"]]
        print(f"{name:<22}" + "".join(f"{c:>10}" for c in cells))
    print("p95 loaded / baseline: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratio.items() if v))
    print(f"throughput loaded / baseline: {result['throughput_ratio_loaded_to_baseline']:.1f}x ({a.sessions} sessions)")
    print(f"model notices under load: {loaded['model_notices']}; server healthy after: {healthy}")
    print("\nserver stages (/metrics, ms)     " + "".join(f"{h:>28}" for h in ("baseline mean/p50/p95", f"{a.sessions} sessions mean/p50/p95")))
    for key in sorted(set(base["server_stages"]) | set(loaded["server_stages"])):
        cells = []
        for r in (base, loaded):
            st = r["server_stages"].get(key)
            cells.append(f"{st['mean_s'] * 1e3:.1f}/{st['p50_s'] * 1e3:.1f}/{st['p95_s'] * 1e3:.1f} (n={st['n']})" if st else "-")
        print(f"{key:<32}" + "".join(f"{c:>28}" for c in cells))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, result)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
