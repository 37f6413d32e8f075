"""Two server replicas on one PostgreSQL: shoppers whose sessions move between them.

Starts two `shop-assistant serve` processes (each on its own copy of the embedded index, as
two machines would each have the catalogue; sessions, carts, limits and open sockets in one
PostgreSQL database, a fresh schema per run; `--llm none`, rate limits off since every
simulated shopper shares one address). Each shopper talks over a socket to one replica for
`--move-every` messages, closes it and resumes the session on the other replica, with a
think time of `--think-min`..`--think-max` seconds: search, "add the first one to my cart",
"yes", again. First one shopper alone (the baseline of the same run), then `--sessions` at
once for `--seconds`. Then it checks what the shop must not lose: each shopper's cart holds
exactly the items it confirmed (`/v1/tools/view_cart`, on either replica), and each
session's history holds each message answered exactly once (read from the database).
Prints a table, writes JSON.

Usage: python benchmarks/bench_replicas.py --index PATH --postgres postgresql://... [--sessions 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import psycopg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402
from benchmarks.serving import serve_process  # noqa: E402

HERE = Path(__file__).resolve().parent
SEARCHES = ["watches for men", "black casual shoes for men", "handbags for women", "blue jeans for women", "white tshirts for men", "sunglasses"]
ITEMS = re.compile(r"Your cart has (\d+) item")


class Shopper:
    """One simulated shopper: its session, what it confirmed, what it saw."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.n = n
        self.rng = rng
        self.session_id: str | None = None
        self.sent = 0  # messages answered with `finish`
        self.confirmed = 0  # adds the shop said it made ("Your cart has N items" after a yes)
        self.turns: list[dict] = []
        self.drops: list[str] = []

    def script(self, i: int) -> str:
        step = i % 3
        return SEARCHES[(self.n + i // 3) % len(SEARCHES)] if step == 0 else ("add the first one to my cart" if step == 1 else "yes")


async def talk(hosts: list[str], shopper: Shopper, until: float, think: tuple[float, float], move_every: int) -> None:
    i, replica = 0, shopper.n % len(hosts)
    await asyncio.sleep(shopper.rng.uniform(0, think[1]))  # shoppers arrive spread out
    while time.perf_counter() < until:
        query = f"?session_id={shopper.session_id}" if shopper.session_id else ""
        try:
            async with connect(f"ws://{hosts[replica]}/v1/chat{query}", max_size=None, open_timeout=60, ping_interval=None) as ws:
                hello = json.loads(await ws.recv())
                if hello["type"] != "session.created":
                    shopper.turns.append({"replica": replica, "errors": [hello.get("code", hello["type"])], "at_connect": True})
                    await asyncio.sleep(think[0])
                    continue
                shopper.session_id = hello["session_id"]
                for _ in range(move_every):
                    if time.perf_counter() >= until:
                        break
                    text = shopper.script(i)
                    row: dict = {"replica": replica, "text": text, "errors": []}
                    sent = time.perf_counter()
                    await ws.send(json.dumps({"type": "message", "text": text}))
                    said = ""
                    while True:
                        ev = json.loads(await ws.recv())
                        kind, now = ev["type"], time.perf_counter() - sent
                        if kind == "data-products" and "card_s" not in row:
                            row["card_s"] = now
                        elif kind == "text-delta":
                            said += ev["delta"]
                        elif kind == "error":
                            row["errors"].append(ev["code"])
                        elif kind == "finish":
                            row["total_s"] = now
                            break
                    shopper.turns.append(row)
                    shopper.sent += 1
                    i += 1
                    if text == "yes" and (m := ITEMS.search(said)):
                        shopper.confirmed += 1
                        row["cart_items"] = int(m[1])
                    await asyncio.sleep(shopper.rng.uniform(*think))
        except (ConnectionClosed, OSError) as e:
            shopper.drops.append(f"{type(e).__name__}: {e}")
        replica = (replica + 1) % len(hosts)  # the next messages land on the other replica


async def load(
    hosts: list[str], sessions: int, seconds: float, think: tuple[float, float], move_every: int, seed: int
) -> tuple[list[Shopper], float]:
    rng = random.Random(seed)
    shoppers = [Shopper(n + seed * 1000, random.Random(rng.random())) for n in range(sessions)]
    start = time.perf_counter()
    await asyncio.gather(*(talk(hosts, s, start + seconds, think, move_every) for s in shoppers))
    return shoppers, time.perf_counter() - start


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def audit(hosts: list[str], shoppers: list[Shopper], url: str) -> dict:
    """Carts and histories as the shop kept them, against what each shopper was told."""
    lost_items, extra_items, duplicated, missing = 0, 0, 0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        for s in shoppers:
            if s.session_id is None:
                continue
            r = httpx.post(f"http://{hosts[s.n % 2]}/v1/tools/view_cart", json={}, headers={"x-session-id": s.session_id}, timeout=30)
            items = r.json()["items"] if r.status_code == 200 else -1
            lost_items += max(s.confirmed - items, 0)
            extra_items += max(items - s.confirmed, 0)
            row = conn.execute("SELECT state FROM sessions WHERE id = %s", (s.session_id,)).fetchone()
            state = row[0] if row else {"history": [], "summary": {"turns": 0}}
            kept = len(state["history"]) + state["summary"]["turns"]  # each message: a user turn and an answer
            duplicated += max(kept - 2 * s.sent, 0)
            missing += max(2 * s.sent - kept, 0)
    return {"lost_cart_items": lost_items, "extra_cart_items": extra_items, "duplicated_turn_records": duplicated, "missing_turn_records": missing}


def summary(shoppers: list[Shopper], wall: float) -> dict:
    turns = [t for s in shoppers for t in s.turns]
    cards = [t["card_s"] for t in turns if "card_s" in t]
    totals = [t["total_s"] for t in turns if "total_s" in t]
    errors = [e for t in turns for e in t["errors"]]
    return {
        "turns": len(totals),
        "turns_per_s": round(len(totals) / wall, 2),
        "by_replica": [sum(1 for t in turns if t.get("replica") == r and "total_s" in t) for r in (0, 1)],
        # sessions resumed on the other replica
        "moves": sum(a["replica"] != b["replica"] for s in shoppers for a, b in zip(s.turns, s.turns[1:], strict=False)),
        "first_card_s": {"p50": pct(cards, 50), "p95": pct(cards, 95)},
        "total_s": {"p50": pct(totals, 50), "p95": pct(totals, 95)},
        "errors": {code: errors.count(code) for code in sorted(set(errors))},
        "dropped_sockets": sum(len(s.drops) for s in shoppers),
        "drops": [d for s in shoppers for d in s.drops][:5],
        "confirmed_adds": sum(s.confirmed for s in shoppers),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True, help="the ingested embedded index (each replica gets a copy)")
    ap.add_argument("--postgres", default=os.environ.get("SHOP_ASSISTANT_TEST_POSTGRES"), help="a PostgreSQL URL (a fresh schema is made in it)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    ap.add_argument("--think-min", type=float, default=1.0)
    ap.add_argument("--think-max", type=float, default=2.0)
    ap.add_argument("--move-every", type=int, default=2, help="messages on one replica before the shopper's session moves to the other")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "replicas.json")
    a = ap.parse_args()
    if not a.postgres:
        raise SystemExit("give --postgres URL (or set SHOP_ASSISTANT_TEST_POSTGRES; `make postgres` starts one)")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(a.postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{a.postgres}{'&' if '?' in a.postgres else '?'}options=-csearch_path%3D{schema}"
    think = (a.think_min, a.think_max)
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            hosts = []
            for r in range(2):
                copy = Path(tmp) / f"index-{r}"
                shutil.copytree(a.index, copy)
                env = {"SHOP_ASSISTANT_SESSIONS": url, "SHOP_ASSISTANT_LLM": "none"}
                hosts.append(stack.enter_context(serve_process(a.out.with_suffix(f".replica{r}.log"), copy, env)))
            asyncio.run(load(hosts, 1, 4, think, a.move_every, seed=99))  # warm-up: first-call costs are not a shopper's
            base_shoppers, base_wall = asyncio.run(load(hosts, 1, a.baseline_seconds, think, a.move_every, seed=1))
            shoppers, wall = asyncio.run(load(hosts, a.sessions, a.seconds, think, a.move_every, seed=2))
            base, loaded = summary(base_shoppers, base_wall), summary(shoppers, wall)
            checks = audit(hosts, shoppers, url)
            healthy = all(httpx.get(f"http://{h}/healthz", timeout=10).status_code == 200 for h in hosts)
    finally:
        with psycopg.connect(a.postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    ratio = {k: round(loaded[k]["p95"] / base[k]["p95"], 2) if loaded[k]["p95"] and base[k]["p95"] else None for k in ("first_card_s", "total_s")}
    result = {"sessions": a.sessions, "seconds": a.seconds, "think_s": think, "move_every": a.move_every, "baseline": base, "loaded": loaded,
              "p95_ratio_loaded_to_baseline": ratio, "audit": checks, "healthy_after": healthy}  # fmt: skip
    print(f"\n{'run':<24}{'turns':>7}{'turns/s':>9}{'moves':>7}{'card p50':>10}{'card p95':>10}{'end p95':>9}{'errors':>8}{'drops':>7}")
    for name, r in (("1 shopper (baseline)", base), (f"{a.sessions} shoppers, 2 replicas", loaded)):
        card = r["first_card_s"]
        print(f"{name:<24}{r['turns']:>7}{r['turns_per_s']:>9}{r['moves']:>7}{card['p50'] or 0:>9.3f}s{card['p95'] or 0:>9.3f}s"
              f"{r['total_s']['p95'] or 0:>8.3f}s{sum(r['errors'].values()):>8}{r['dropped_sockets']:>7}")  # fmt: skip
    print(f"turns by replica {loaded['by_replica']}; errors {loaded['errors'] or 'none'}; p95 loaded / baseline {ratio}")
    print(f"audit: {checks} ({loaded['confirmed_adds']} confirmed adds); replicas healthy after: {healthy}")
    write_result(a.out, result)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
