"""What the benchmark scripts share: the index options, the settings they make, and how a
result is written (with its provenance)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def provenance() -> dict[str, Any]:
    """How a result came to be, written into its JSON so a quoted figure can be traced: the
    command, the commit (`-dirty` with uncommitted changes), the machine, the time."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    commit = git("rev-parse", "HEAD")
    if commit != "unknown" and git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines() if ln.startswith("model name")), platform.processor())
    return {
        "command": " ".join(["python", *sys.argv]),
        "commit": commit,
        "machine": {"cpu": cpu or "unknown", "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(path: Path, result: dict[str, Any] | list[Any], **dump: Any) -> None:
    """The result as JSON with its provenance (a list result goes under `rows`)."""
    body = result if isinstance(result, dict) else {"rows": result}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"provenance": provenance(), **body}, indent=1, **dump), encoding="utf-8")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def write_conversations(name: str, conversations: list[dict]) -> Path:
    """A scripted conversation set as `benchmarks/conversations/<name>.jsonl` (UTF-8, one per line), said on stdout."""
    dest = Path(__file__).parent / "conversations" / f"{name}.jsonl"
    dest.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations), encoding="utf-8")
    print(f"wrote {len(conversations)} conversations, {sum(len(c['turns']) for c in conversations)} turns, to {dest}")
    return dest
