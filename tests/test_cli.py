"""The command line: bad input ends with a one-line message and a non-zero exit code."""

from __future__ import annotations

import subprocess
import sys


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_missing_catalogue_is_one_line_and_exit_2(tmp_path):
    r = _run("--index", str(tmp_path), "ingest", str(tmp_path / "nope.csv"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: catalogue file not found")
    assert "Traceback" not in r.stderr


def test_qdrant_server_down_is_a_clear_error(tmp_path):
    r = _run("--qdrant-url", "http://127.0.0.1:9", "search", "--text", "shoes")
    assert r.returncode == 2
    assert "unreachable" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_the_subcommands():
    r = _run("--help")
    assert r.returncode == 0
    for cmd in ("ingest", "search", "eval", "bench", "train-clip", "train-classifier", "export-clip"):
        assert cmd in r.stdout


def test_unknown_benchmark_names_the_choices():
    r = _run("bench", "nope")
    assert r.returncode == 2 and "ingest" in r.stderr and "scale" in r.stderr


def test_prune_with_a_limit_is_refused_before_the_index_is_touched(tmp_path, kagl_csv):
    r = _run("--index", str(tmp_path / "index"), "ingest", str(kagl_csv), "--limit", "5", "--prune")
    assert r.returncode == 2 and "--prune" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "index").exists(), "nothing was opened, created or removed"
