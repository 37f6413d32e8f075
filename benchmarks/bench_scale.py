"""How the embedded engine's cost grows with catalogue size: synthetic points, real schema.

Random unit vectors for `image`, `clip_text`, `fused` (256-d) and `text` (384-d), random
BM25 terms and KAGL-like payloads, at the sizes given. For each size: upsert throughput,
query latency p50/p95/p99 (dense, filtered dense, 3-prefetch hybrid RRF) before and after
the HNSW build, HNSW build time, on-disk size, reopen time, peak memory. The smallest size
is the baseline for the latency ratios. Random vectors are the worst case for HNSW
(no clusters), so build times here are upper bounds. Writes benchmarks/results/scale.json.

Usage: python benchmarks/bench_scale.py --sizes 50000,200000 [--hnsw]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.index.base import Filters, Fusion, IndexPoint, SparseVec, VectorQuery  # noqa: E402
from assistant.index.edge import EdgeIndex  # noqa: E402
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, TEXT, VectorDims, VectorStorage  # noqa: E402
from benchmarks.common import write_result  # noqa: E402

COLOURS = ["black", "white", "blue", "red", "grey", "green", "navy blue", "brown", "pink", "silver"]
TYPES = ["tshirts", "shirts", "casual shoes", "watches", "sports shoes", "kurtas", "tops", "handbags", "heels", "sunglasses"]


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _points(rng: np.random.Generator, start: int, n: int) -> list[IndexPoint]:
    img, cap, fus, txt = _unit(rng, n, 256), _unit(rng, n, 256), _unit(rng, n, 256), _unit(rng, n, 384)
    pts = []
    for i in range(n):
        terms = rng.choice(50_000, size=8, replace=False)
        vec = {CLIP_TEXT: cap[i].tolist(), FUSED: fus[i].tolist(), TEXT: txt[i].tolist(), BM25: SparseVec(sorted(int(t) for t in terms), [1.0] * 8)}
        if i % 5 == 0:
            vec[IMAGE] = img[i].tolist()  # KAGL: about one product in five has a photo
        pid = start + i
        payload = {
            "product_id": str(pid),
            "colour_key": COLOURS[pid % 10],
            "article_type_key": TYPES[(pid // 10) % 10],
            "category_key": [TYPES[(pid // 10) % 10]],
            "price": float(pid % 200),
        }
        pts.append(IndexPoint(str(uuid.UUID(int=pid + 1)), vec, payload))
    return pts


def _latency(index: EdgeIndex, rng: np.random.Generator, n: int = 60) -> dict[str, dict[str, float]]:
    out = {}
    flt = Filters(colour=["red"], category=["watches"])
    for name, make in {
        "dense": lambda q: ([VectorQuery(FUSED, q, 10)], None, None),
        "dense_filtered": lambda q: ([VectorQuery(FUSED, q, 10)], None, flt),
        "hybrid_rrf": lambda q: (
            [VectorQuery(FUSED, q, 100), VectorQuery(CLIP_TEXT, q, 100), VectorQuery(BM25, SparseVec([3, 77, 1000], [1.0, 1.0, 1.0]), 100)],
            Fusion(),
            None,
        ),
    }.items():
        times = []
        for _ in range(n):
            prefetch, fusion, f = make(_unit(rng, 1, 256)[0].tolist())
            t = time.perf_counter()
            index.query("s", prefetch, fusion, f, 10)
            times.append((time.perf_counter() - t) * 1e3)
        out[name] = {f"p{p}_ms": float(np.percentile(times, p)) for p in (50, 95, 99)}
    return out


def run(size: int, hnsw: bool, storage: VectorStorage, skip_plain: bool = False) -> dict:
    rng = np.random.default_rng(size)
    d = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        index = EdgeIndex(d)
        index.create_collection("s", VectorDims(clip=256, text=384), storage)
        t = time.perf_counter()
        for start in range(0, size, 2000):
            index.upsert("s", _points(rng, start, min(2000, size - start)))
            print(f"\r  {size}: upserted {min(start + 2000, size)}", end="", file=sys.stderr)
        index.flush("s")
        upsert_s = time.perf_counter() - t
        print(file=sys.stderr)
        res: dict = {"points": size, "storage": {"quantization": storage.quantization, "on_disk": storage.on_disk}}
        res |= {"upsert_points_per_s": size / upsert_s, "latency_plain": {} if skip_plain else _latency(index, rng)}
        if hnsw:
            t = time.perf_counter()
            index.optimize("s")
            res["hnsw_build_s"] = time.perf_counter() - t
            res["latency_hnsw"] = _latency(index, rng)
        index.close()
        res["on_disk_mb"] = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
        t = time.perf_counter()
        again = EdgeIndex(d)
        again.count("s")
        res["reopen_s"] = time.perf_counter() - t
        again.close()
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return res
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50000,200000")
    ap.add_argument("--hnsw", action="store_true", help="also build HNSW and measure after it")
    ap.add_argument("--quantization", choices=["none", "scalar", "binary"], default="none", help="Qdrant's quantisation of the dense vectors")
    ap.add_argument("--on-disk", action="store_true", help="original vectors on disk (the quantised copy stays in RAM)")
    ap.add_argument("--skip-plain", action="store_true", help="measure queries only after the HNSW build (a large size's exact scans are slow)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scale.json")
    a = ap.parse_args()
    storage = VectorStorage(a.quantization, a.on_disk)
    rows = [run(int(s), a.hnsw, storage, a.skip_plain) for s in a.sizes.split(",")]
    base = rows[0]["latency_plain"]
    print(f"{'points':>9} {'upsert/s':>9} {'query':<15} {'plain p50':>10} {'p95':>8} {'x base':>7} {'hnsw p50':>9} {'p95':>8}")
    nan = float("nan")
    for r in rows:
        for q in r["latency_plain"] or r.get("latency_hnsw", {}):
            lat, h = r["latency_plain"].get(q, {}), r.get("latency_hnsw", {}).get(q, {})
            ratio = lat["p50_ms"] / base[q]["p50_ms"] if lat and q in base else nan
            print(
                f"{r['points']:>9} {r['upsert_points_per_s']:>9.0f} {q:<15} {lat.get('p50_ms', nan):>10.1f} {lat.get('p95_ms', nan):>8.1f} "
                f"{ratio:>7.2f} {h.get('p50_ms', nan):>9.1f} {h.get('p95_ms', nan):>8.1f}"
            )
        print(
            f"{'':>9} disk {r['on_disk_mb']:.0f} MB, reopen {r['reopen_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
            + (f", HNSW build {r['hnsw_build_s']:.0f} s" if "hnsw_build_s" in r else "")
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, rows)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
