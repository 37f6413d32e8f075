"""The multimodal product classifier (the founding design's section 4: early and late fusion).

Predicts article type, colour and gender from CLIP features of a product's photo and
title. Early fusion: the two feature vectors concatenated, one classification head.
Late fusion: one head per modality, their log-probabilities averaged. Text-only and
image-only heads are the baselines. Ingest uses the early-fusion model to fill a product's
missing attributes (marked as predicted, with a confidence).

The title (not the caption) is the text input, since the caption already names the very
attributes being predicted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from assistant.errors import ModelError

TARGETS = ("article_type", "colour", "gender")
MIN_CLASS_EXAMPLES = 5  # rarer labels are left out: too few to learn or to validate


class Head(nn.Module):
    """A two-layer classification head over a feature vector."""

    def __init__(self, dim_in: int, n_classes: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(dim_in, hidden), nn.GELU(), nn.Dropout(0.2), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class ClassifierReport:
    """Validation accuracy per target and fusion kind."""

    train: int
    validation: int
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # target → kind → accuracy

    def table(self) -> str:
        kinds = ("text", "image", "early", "late")
        lines = [f"{'target':<14}" + "".join(f"{k:>9}" for k in kinds)]
        for t, row in self.accuracy.items():
            lines.append(f"{t:<14}" + "".join(f"{row[k]:>9.3f}" for k in kinds))
        return "\n".join(lines)


def _fit(head: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=1e-2)
    head.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 128):
            idx = perm[i : i + 128]
            loss = nn.functional.cross_entropy(head(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()


@dataclass
class AttributeClassifier:
    """Early-fusion heads per target, with their label lists."""

    labels: dict[str, list[str]]
    heads: dict[str, Head]
    dim: int

    @torch.no_grad()
    def predict(self, image: np.ndarray | None, text: np.ndarray) -> dict[str, tuple[str, float]]:
        """target → (label, probability) for one product; a missing photo counts as zeros."""
        img = torch.zeros(self.dim) if image is None else torch.from_numpy(np.asarray(image, dtype=np.float32))
        x = torch.cat([torch.from_numpy(np.asarray(text, dtype=np.float32)), img])[None]
        out = {}
        for t, head in self.heads.items():
            p = torch.softmax(head(x), dim=-1)[0]
            i = int(p.argmax())
            out[t] = (self.labels[t][i], float(p[i]))
        return out

    def save(self, path: Path) -> None:
        sd = {f"{t}.{k}": v for t, h in self.heads.items() for k, v in h.state_dict().items()}
        save_file(sd, str(path), metadata={"labels": json.dumps(self.labels), "dim": str(self.dim)})

    @classmethod
    def load(cls, path: Path) -> AttributeClassifier:
        if not path.is_file():
            raise ModelError(f"attribute classifier not found at {path}; run `shop-assistant train-classifier`")
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        labels = json.loads(meta["labels"])
        dim = int(meta["dim"])
        sd = load_file(str(path))
        heads = {}
        for t, labs in labels.items():
            h = Head(2 * dim, len(labs))
            h.load_state_dict({k[len(t) + 1 :]: v for k, v in sd.items() if k.startswith(t + ".")})
            h.eval()
            heads[t] = h
        return cls(labels, heads, dim)


def train_classifier(
    image_emb: np.ndarray,
    text_emb: np.ndarray,
    targets: dict[str, list[str]],
    is_val: np.ndarray,
    epochs: int = 30,
    seed: int = 0,
) -> tuple[AttributeClassifier, ClassifierReport]:
    """Train text-only, image-only, early and late classifiers; return the early one and the report."""
    torch.manual_seed(seed)
    ximg = torch.from_numpy(image_emb.astype(np.float32))
    xtxt = torch.from_numpy(text_emb.astype(np.float32))
    xcat = torch.cat([xtxt, ximg], dim=1)
    tr = torch.from_numpy(~is_val)
    va = torch.from_numpy(is_val)
    report = ClassifierReport(train=int(tr.sum()), validation=int(va.sum()))
    labels: dict[str, list[str]] = {}
    heads: dict[str, Head] = {}
    for t in TARGETS:
        vals = np.array(targets[t])
        train_vals, counts = np.unique(vals[~is_val], return_counts=True)
        labs = sorted(str(v) for v, c in zip(train_vals, counts, strict=True) if c >= MIN_CLASS_EXAMPLES)
        index = {v: i for i, v in enumerate(labs)}
        y = torch.tensor([index.get(str(v), -1) for v in vals])
        keep_tr = tr & (y >= 0)
        keep_va = va & (y >= 0)
        row: dict[str, float] = {}
        logp: dict[str, torch.Tensor] = {}
        for kind, x in (("text", xtxt), ("image", ximg), ("early", xcat)):
            h = Head(x.shape[1], len(labs))
            _fit(h, x[keep_tr], y[keep_tr], epochs, seed)
            with torch.no_grad():
                lp = torch.log_softmax(h(x[keep_va]), dim=-1)
            logp[kind] = lp
            row[kind] = float((lp.argmax(-1) == y[keep_va]).float().mean())
            if kind == "early":
                heads[t] = h
        late = (logp["text"] + logp["image"]) / 2
        row["late"] = float((late.argmax(-1) == y[keep_va]).float().mean())
        report.accuracy[t] = row
        labels[t] = labs
    return AttributeClassifier(labels, heads, image_emb.shape[1]), report


def report_json(report: ClassifierReport) -> str:
    return json.dumps(asdict(report), indent=2)
