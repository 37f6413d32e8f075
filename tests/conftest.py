"""Shared fixtures: the real KAGL catalogue beside the checkout, and temporary indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAGL = (ROOT.parent / "shared" / "data" / "kagl").resolve()
KAGL_CSV = KAGL / "products.csv"


@pytest.fixture(scope="session")
def kagl_csv() -> Path:
    if not KAGL_CSV.is_file():
        pytest.fail(f"the shared KAGL catalogue is missing at {KAGL_CSV}")
    return KAGL_CSV
