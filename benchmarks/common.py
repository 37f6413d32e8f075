"""What the benchmark scripts share: the index options and the settings they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.config import Settings


def add_index_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--index", type=Path, help="embedded index folder (default: the user data folder)")
    ap.add_argument("--collection", default="kagl")


def settings_from(a: argparse.Namespace) -> Settings:
    s = Settings.from_env()
    if a.index:
        s.index.path = a.index
    s.collection = a.collection
    return s
