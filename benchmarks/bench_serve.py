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

Usage: python benchmarks/bench_serve.py [--sessions 50] [--seconds 60] [--think 3] [--index PATH]
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


def scripts(path: Path) -> list[list[str]]:
    convs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [[t["user"] for t in c["turns"] if "photo" not in t and t.get("user")] for c in convs]


async def shopper(host: str, script: list[str], until: float, think: float, turns: list[dict], drops: list[str], rng: random.Random) -> None:
    try:
        async with connect(f"ws://{host}/v1/chat", max_size=None, open_timeout=60, ping_interval=None) as ws:
            json.loads(await ws.recv())  # session.created
            # Shoppers arrive over one think time and pause 0.5x-1.5x of it between messages, as
            # people do; all sending at the same instant would measure a queue no shop sees.
            await asyncio.sleep(rng.uniform(0, think))
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
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    except (ConnectionClosed, OSError) as e:
        drops.append(f"{type(e).__name__}: {e}")


async def load(host: str, sessions: int, seconds: float, think: float, convs: list[list[str]]) -> tuple[list[dict], list[str], float]:
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


def server_stages(text: str) -> dict:
    """Mean of each stage histogram in the server's /metrics (sum / count per channel and stage)."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r'shop_assistant_stage_seconds_(sum|count)\{channel="(\w+)",stage="(\w+)"\} ([\d.e+-]+)', line)
        if m:
            (sums if m[1] == "sum" else counts)[f"{m[2]}/{m[3]}"] = float(m[4])
    return {k: {"mean_s": sums[k] / counts[k], "n": int(counts[k])} for k in sums if counts.get(k)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="embedded index folder (default: the user data folder)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--think", type=float, default=3.0, help="seconds a shopper waits between an answer and the next message")
    ap.add_argument("--baseline-seconds", type=float, default=30.0)
    ap.add_argument("--conversations", type=Path, default=HERE / "conversations" / "kagl.jsonl")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "serve.json")
    a = ap.parse_args()
    with serve_process(a.out.with_suffix(".server.log"), a.index) as host:  # the server's access log, kept out of the table
        convs = scripts(a.conversations)
        asyncio.run(load(host, 1, 5, 0.0, convs))  # warm-up: first-call costs are not a shopper's
        base = summary(*asyncio.run(load(host, 1, a.baseline_seconds, a.think, convs)))
        loaded = summary(*asyncio.run(load(host, a.sessions, a.seconds, a.think, convs)))
        stages = server_stages(httpx.get(f"http://{host}/metrics", timeout=10).text)
        healthy = httpx.get(f"http://{host}/healthz", timeout=10).status_code == 200
    ratio = {
        k: (loaded[k]["p95"] / base[k]["p95"]) if loaded[k]["p95"] and base[k]["p95"] else None for k in ("first_card_s", "first_text_s", "total_s")
    }
    result = {
        "sessions": a.sessions,
        "seconds": a.seconds,
        "think_s": a.think,
        "baseline": base,
        "loaded": loaded,
        "p95_ratio_loaded_to_baseline": ratio,
        "server_stage_means": stages,
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
    print(f"model notices under load: {loaded['model_notices']}; server healthy after: {healthy}")
    print("server stage means (/metrics): " + ", ".join(f"{k} {v['mean_s'] * 1000:.0f} ms (n={v['n']})" for k, v in stages.items()))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, result)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
