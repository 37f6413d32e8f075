"""Ingest throughput and index footprint on a slice of KAGL (or all of it).

Measures, in one run: encoder throughput per kind (CLIP photos/s, CLIP captions/s,
sentence texts/s, BM25 docs/s), end-to-end ingest products/s, HNSW build time, on-disk
size, reopen time and peak memory. Ratios are given against the sentence encoder's rate
measured in the same run. Writes benchmarks/results/ingest.json.

Usage: python benchmarks/bench_ingest.py [--limit N] [--catalogue PATH]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.encoders.images import load_image  # noqa: E402
from assistant.index.edge import EdgeIndex  # noqa: E402
from assistant.ingest import ingest_catalogue  # noqa: E402
from assistant.runtime import load_encoders  # noqa: E402
from benchmarks.common import write_result  # noqa: E402


def _rate(n: int, fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalogue", type=Path, default=Path("../shared/data/kagl/products.csv"))
    ap.add_argument("--limit", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.json")
    a = ap.parse_args()
    cat = load_catalogue(a.catalogue, limit=a.limit)
    enc = load_encoders(Settings())
    sample = cat.products[:512]
    with_photo = [p for p in cat.products if p.image][:256]
    imgs = [load_image(p.image) for p in with_photo]  # type: ignore[arg-type]
    enc.clip.encode_image(imgs[:8])  # trace the image tower outside the timing
    rates = {
        "clip_photos_per_s": _rate(len(imgs), lambda: enc.clip.encode_image(imgs)),
        "clip_captions_per_s": _rate(len(sample), lambda: enc.clip.encode_text([p.clip_caption() for p in sample])),
        "sentence_texts_per_s": _rate(len(sample), lambda: enc.text.encode_text([p.full_text() for p in sample])),
        "bm25_docs_per_s": _rate(len(sample), lambda: enc.sparse.encode_documents([p.full_text() for p in sample])),
    }
    d = Path(tempfile.mkdtemp())
    try:
        index = EdgeIndex(d)
        report = ingest_catalogue(cat, index, "bench", enc, "bench", progress=True)
        t = time.perf_counter()
        index.optimize("bench")
        hnsw_s = time.perf_counter() - t
        index.close()
        size_mb = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
        t = time.perf_counter()
        reopened = EdgeIndex(d)
        n = reopened.count("bench")
        reopen_s = time.perf_counter() - t
        reopened.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    result = {
        "products": len(cat.products),
        "photos": report.images_indexed,
        "ingest_products_per_s": report.indexed / report.seconds,
        "ingest_s": report.seconds,
        "hnsw_build_s": hnsw_s,
        "on_disk_mb": size_mb,
        "reopen_s": reopen_s,
        "points_after_reopen": n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **rates,
    }
    base = rates["sentence_texts_per_s"]
    print(f"{'measure':<24} {'value':>10} {'vs sentence enc.':>17}")
    for k, v in result.items():
        ratio = f"{v / base:>17.2f}" if k.endswith("_per_s") else ""
        print(f"{k:<24} {v:>10.1f} {ratio}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, result)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
