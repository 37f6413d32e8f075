"""A small, fixed slice of the real KAGL catalogue for integration tests."""

from __future__ import annotations

import csv
from pathlib import Path

TYPES = ("Watches", "Sandals", "Sports Shoes", "Casual Shoes", "Tshirts", "Handbags", "Sunglasses", "Jeans")


def write_subset(kagl_csv: Path, dest: Path, per_type: int = 30, corrupt: int = 0) -> tuple[Path, list[dict[str, str]]]:
    """Write a CSV of `per_type` products of each type in TYPES (photos first, absolute paths).

    With `corrupt` > 0, that many extra rows point at broken image files made in `dest`'s folder.
    """
    with kagl_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    chosen: list[dict[str, str]] = []
    for t in TYPES:
        of_type = [r for r in rows if r["article_type"] == t]
        of_type.sort(key=lambda r: (r["image"] == "", int(r["id"])))
        chosen.extend(of_type[:per_type])
    for r in chosen:
        if r["image"]:
            r["image"] = str((kagl_csv.parent / r["image"]).resolve())
    for i in range(corrupt):
        bad = dest.parent / f"broken-{i}.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" if i % 2 == 0 else b"plain text, not an image")
        chosen.append({**chosen[i], "id": f"900000{i}", "name": f"Broken Photo Product {i}", "image": str(bad)})
    with dest.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(chosen)
    return dest, chosen
