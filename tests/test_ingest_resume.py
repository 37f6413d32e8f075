"""An ingest killed midway continues where it stopped (real CLI process, SIGKILL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from assistant.index.edge import EdgeIndex
from tests.kagl_subset import write_subset

pytestmark = pytest.mark.model


def _cli(index, *args):
    return [sys.executable, "-m", "assistant.cli", "--index", str(index), *args]


def test_killed_ingest_resumes_without_duplicates(tmp_path, kagl_csv):
    csv_path, rows = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=20)
    index = tmp_path / "index"
    proc = subprocess.Popen(
        _cli(index, "ingest", str(csv_path), "--batch-size", "8", "--no-optimize"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Kill it (no chance to clean up) once the progress bar shows a quarter done.
    buf = b""
    deadline = time.time() + 300
    assert proc.stderr is not None
    while time.time() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        done = [int(m) for m in re.findall(rb"ingest:\s+(\d+)%", buf)]
        if done and done[-1] >= 25:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, buf.decode(errors="replace")[-2000:]

    ix = EdgeIndex(index)
    partial = ix.count("kagl")
    ix.close()
    assert 0 < partial < len(rows)

    rerun = subprocess.run(_cli(index, "ingest", str(csv_path), "--batch-size", "8", "--no-optimize"), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    m = re.search(r"(\d+) indexed .*?, (\d+) unchanged", rerun.stdout)
    assert m, rerun.stdout
    indexed, unchanged = int(m.group(1)), int(m.group(2))
    assert unchanged >= partial - 8, "finished batches are not encoded again"
    assert indexed + unchanged == len(rows)
    ix = EdgeIndex(index)
    assert ix.count("kagl") == len(rows), "no duplicates, nothing missing"
    ix.close()
