"""The command line: bad input ends with a one-line message and a non-zero exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest


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


def test_train_clip_refuses_views_and_weights_it_cannot_train_with_before_any_work(tmp_path):
    out = tmp_path / "clip.safetensors"
    r = _run("train-clip", "--views", "4", "--out", str(out))
    assert r.returncode == 2 and "--views" in r.stderr and "Traceback" not in r.stderr
    r = _run("train-clip", "--attribute-weight", "-0.5", "--out", str(out))
    assert r.returncode == 2 and "--attribute-weight" in r.stderr and "Traceback" not in r.stderr
    r = _run("train-clip", "--scene-share", "0.25", "--out", str(out))
    assert r.returncode == 2 and "--scene-share needs --scene-views" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_unknown_benchmark_names_the_choices():
    r = _run("bench", "nope")
    assert r.returncode == 2 and "ingest" in r.stderr and "scale" in r.stderr


def test_prune_with_a_limit_is_refused_before_the_index_is_touched(tmp_path, kagl_csv):
    r = _run("--index", str(tmp_path / "index"), "ingest", str(kagl_csv), "--limit", "5", "--prune")
    assert r.returncode == 2 and "--prune" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "index").exists(), "nothing was opened, created or removed"


@pytest.mark.model
def test_a_clip_searched_from_the_command_line_gives_a_group_per_product_and_a_bad_one_a_line(tmp_path, kagl_csv):
    import json
    from pathlib import Path

    from benchmarks.video_clips import make_clip
    from tests.kagl_subset import write_subset

    csv_path, rows = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=4)
    index = str(tmp_path / "index")
    assert _run("--index", index, "ingest", str(csv_path), timeout=600).returncode == 0
    filmed = [next(r for r in rows if r["article_type"] == kind and r["image"]) for kind in ("Watches", "Handbags")]
    clip = make_clip([(r["id"], r["article_type"], Path(r["image"])) for r in filmed], tmp_path / "clip", "h264", seed=2)
    r = _run("--index", index, "search", "--video", clip.path, "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    groups = json.loads(r.stdout)["groups"]
    assert [g["item"] for g in groups] == [1, 2] and all(g["seen"] for g in groups)
    assert [g["hits"][0]["category"] for g in groups] == ["Watches", "Handbags"]
    (tmp_path / "notes.mp4").write_text("a text file named like a video")
    r = _run("--index", index, "search", "--video", str(tmp_path / "notes.mp4"), timeout=300)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: the video is not readable")
    assert "Traceback" not in r.stderr


@pytest.mark.model
def test_the_colour_reader_trains_from_a_catalogue_and_one_without_photos_is_one_line(tmp_path, kagl_csv):
    import csv

    from assistant.clip.colour_reader import ColourReader

    with kagl_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    picked = [r for c in ("Black", "White") for r in [r for r in rows if r["image"] and r["base_colour"] == c][:40]]
    for r in picked:
        r["image"] = str((kagl_csv.parent / r["image"]).resolve())
    small = tmp_path / "small.csv"
    with small.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(picked)
    out = tmp_path / "colour.safetensors"
    r = _run("train-colour-reader", str(small), "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 colours; validation accuracy" in r.stdout and out.is_file()
    assert ColourReader.load(out).labels == ["Black", "White"]
    no_photos = tmp_path / "none.csv"
    with no_photos.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows([{**x, "image": ""} for x in picked[:3]])
    r = _run("train-colour-reader", str(no_photos), "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: no readable photo") and "Traceback" not in r.stderr
