"""The attribute classifier: fills a catalogue's missing attributes at ingest, marked as predicted."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from assistant.catalogue.loader import load_catalogue
from assistant.clip.classifier import AttributeClassifier, train_classifier
from assistant.clip.model import DEFAULT_CLASSIFIER
from assistant.config import Settings
from assistant.index.base import Filters
from assistant.index.edge import EdgeIndex
from assistant.ingest import ingest_catalogue
from assistant.runtime import load_encoders
from tests.kagl_subset import write_subset

pytestmark = pytest.mark.model


def test_classifier_trains_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 400, 16
    labels = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, d))
    img = centres[labels] + 0.3 * rng.normal(size=(n, d))
    txt = centres[labels] + 0.3 * rng.normal(size=(n, d))
    targets = {t: [f"c{v}" for v in labels] for t in ("article_type", "colour", "gender")}
    clf, report = train_classifier(img, txt, targets, np.arange(n) % 5 == 0, epochs=20)
    assert report.accuracy["article_type"]["early"] > 0.9
    clf.save(tmp_path / "c.safetensors")
    again = AttributeClassifier.load(tmp_path / "c.safetensors")
    assert clf.predict(img[0], txt[0]) == again.predict(img[0], txt[0])
    assert again.predict(None, txt[0])["article_type"][0] in {"c0", "c1", "c2"}


def test_ingest_predicts_missing_attributes(tmp_path, kagl_csv):
    assert DEFAULT_CLASSIFIER.is_file(), "the packaged classifier ships with the project"
    src, rows = write_subset(kagl_csv, tmp_path / "full.csv", per_type=6)
    stripped = tmp_path / "stripped.csv"
    with stripped.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        for r in rows:
            # A catalogue without categories, colours or genders at all.
            w.writerow({**r, "master_category": "", "sub_category": "", "article_type": "", "base_colour": "", "gender": ""})
    enc = load_encoders(Settings())
    index = EdgeIndex(tmp_path / "index")
    report = ingest_catalogue(load_catalogue(stripped, mapping="kagl"), index, "c", enc, "t", progress=False)
    assert report.attributes_predicted == 3 * len(rows)
    truth = {r["id"]: r for r in rows}
    hits, _ = index.scroll("c", None, 1000)
    right = 0
    for h in hits:
        pred = h.payload["predicted"]
        assert set(pred) == {"article_type", "colour", "gender"}
        assert 0 < pred["article_type"]["confidence"] <= 1
        right += pred["article_type"]["value"] == truth[h.payload["product_id"]]["article_type"]
        assert "colour" not in h.payload, "the catalogue's own fields stay as they were"
    assert right / len(hits) >= 0.8
    # Confident predictions are filterable: predicted watches are found as watches.
    assert index.count("c", Filters(article_type=["watches"])) >= 4
    index.close()
