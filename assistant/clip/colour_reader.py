"""What colour a product photo shows, in the catalogue's own colour names.

A shopper's photo with words ("same but for her") should keep the photo's colour, so the
colour has to be read from the photo. Its nearest neighbours in the catalogue agree on its
kind far more often than on its colour (62% right on the composed dev set: blacks, navy
blues, greys and browns change places), since the catalogue CLIP learned products more than
shades. The reader adds what the pixels say: a multinomial logistic regression over the
photo's CLIP vector and a colour histogram of its product pixels (the studio white left out;
a photo on a backdrop is read from its framed view), trained on the catalogue's photos of the
CLIP's training split (`shop-assistant train-colour-reader`). It gives probabilities; the
search mixes them with the neighbours' vote (`retrieval.composed.read_photo`).

Owns the pixel features and the reader's model; not where the colour is used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from assistant.encoders.framing import Framed, frame_product
from assistant.errors import ModelError

DEFAULT_COLOUR_READER = Path(__file__).parent / "weights" / "kagl-clip-lite0-colour.safetensors"
HUE_BINS, SAT_BINS, VAL_BINS = 12, 4, 4
PIXEL_DIM = HUE_BINS * SAT_BINS * VAL_BINS + 6
PIXEL_SCALE = 3.0  # the histogram's weight beside the unit-length CLIP vector (chosen on dev)
STUDIO_WHITE = 0.92  # a pixel whose every channel is above this is the backdrop, not the product
MIN_PRODUCT_PIXELS = 20
MIN_EXAMPLES = 5  # rarer colours are left out: too few to learn or to check


def pixel_features(image: Image.Image, framed: Framed | None = None) -> np.ndarray:
    """The product pixels' colours: a hue x saturation x value histogram (shares) and the mean
    and spread of red, green and blue. Near-white pixels are the studio's, not the product's
    (a white product keeps them all: fewer than `MIN_PRODUCT_PIXELS` others). `framed`: `image`
    already framed by `frame_product`, where the caller has it."""
    framed = framed if framed is not None else frame_product(image)
    if framed.isolated and not framed.studio:
        image = framed.image  # the product set on white: the backdrop is not its colour
    small = image.convert("RGB").resize((64, 64))
    rgb = np.asarray(small, dtype=np.float32).reshape(-1, 3) / 255.0
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3) / 255.0
    product = rgb.min(axis=1) <= STUDIO_WHITE
    if product.sum() < MIN_PRODUCT_PIXELS:
        product = np.ones(len(rgb), dtype=bool)
    hist, _ = np.histogramdd(hsv[product], bins=(HUE_BINS, SAT_BINS, VAL_BINS), range=((0, 1), (0, 1), (0, 1)))
    return np.concatenate([hist.ravel() / product.sum(), rgb[product].mean(axis=0), rgb[product].std(axis=0)]).astype(np.float32)


@dataclass(frozen=True)
class ColourReport:
    train: int
    validation: int
    colours: int
    accuracy: float  # on the validation split's photos
    accuracy_clip_only: float  # the same model without the pixels: what they add


@dataclass
class ColourReader:
    """Colour probabilities for a photo from its CLIP vector and its pixels."""

    labels: list[str]
    weight: torch.Tensor  # (colours, clip dim + PIXEL_DIM)
    bias: torch.Tensor  # (colours,)

    @property
    def clip_dim(self) -> int:
        return self.weight.shape[1] - PIXEL_DIM

    def probabilities(self, vector: np.ndarray, image: Image.Image, framed: Framed | None = None) -> dict[str, float]:
        """Catalogue colour → probability for one photo (`vector`: its CLIP image vector;
        `framed`: the photo framed by `frame_product`, where the caller has it)."""
        if vector.shape != (self.clip_dim,):
            raise ModelError(f"the colour reader reads {self.clip_dim}-dim CLIP vectors, not {vector.shape}")
        x = torch.from_numpy(np.concatenate([vector.astype(np.float32), PIXEL_SCALE * pixel_features(image, framed)]))
        with torch.no_grad():
            p = torch.softmax(self.weight @ x + self.bias, dim=0)
        return dict(zip(self.labels, p.tolist(), strict=True))

    def save(self, path: Path, report: ColourReport | None = None) -> None:
        meta = {"labels": json.dumps(self.labels), "pixel_scale": str(PIXEL_SCALE)}
        if report is not None:
            meta["report"] = json.dumps(asdict(report))
        save_file({"weight": self.weight.contiguous(), "bias": self.bias.contiguous()}, str(path), metadata=meta)

    @classmethod
    def load(cls, path: Path) -> ColourReader:
        if not path.is_file():
            raise ModelError(f"colour reader not found at {path}; run `shop-assistant train-colour-reader`")
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            sd = load_file(str(path))
        except (OSError, ValueError, RuntimeError, SafetensorError) as e:
            raise ModelError(f"the colour reader at {path} does not load: {e}") from e
        # A reader of other pixel features, or another model's file, would read nonsense.
        if meta.get("pixel_scale") != str(PIXEL_SCALE) or "labels" not in meta or set(sd) != {"weight", "bias"}:
            raise ModelError(f"{path} is not a colour reader of this version; run `shop-assistant train-colour-reader`")
        labels = json.loads(meta["labels"])
        if sd["weight"].shape != (len(labels), sd["weight"].shape[1]) or sd["weight"].shape[1] <= PIXEL_DIM:
            raise ModelError(f"the colour reader at {path} does not match its own colour list")
        return cls(labels, sd["weight"], sd["bias"])


def _fit(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression, full batch, L-BFGS (a convex problem: no seed matters)."""
    w = torch.zeros(n_classes, x.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def train_colour_reader(
    vectors: np.ndarray, pixels: np.ndarray, colours: list[str], is_val: np.ndarray, *, l2: float = 1e-4, steps: int = 300
) -> tuple[ColourReader, ColourReport]:
    """Train on the photos not in `is_val`; report accuracy on those in it (`pixels`: rows of
    `pixel_features`, one per photo, aligned with `vectors` and `colours`)."""
    if not (len(vectors) == len(pixels) == len(colours) == len(is_val)):
        raise ValueError("vectors, pixels, colours and is_val must have one row per photo")
    names, counts = np.unique(np.array(colours)[~is_val], return_counts=True)
    labels = sorted(str(c) for c, n in zip(names, counts, strict=True) if n >= MIN_EXAMPLES)
    if len(labels) < 2:
        raise ValueError("the colour reader needs at least two colours with five training photos each")
    index = {c: i for i, c in enumerate(labels)}
    y = torch.tensor([index.get(c, -1) for c in colours])
    x_clip = torch.from_numpy(vectors.astype(np.float32))
    x_all = torch.cat([x_clip, PIXEL_SCALE * torch.from_numpy(pixels.astype(np.float32))], dim=1)
    tr = torch.from_numpy(~is_val) & (y >= 0)
    va = torch.from_numpy(is_val) & (y >= 0)
    w, b = _fit(x_all[tr], y[tr], len(labels), l2, steps)
    wc, bc = _fit(x_clip[tr], y[tr], len(labels), l2, steps)

    def accuracy(x: torch.Tensor, w_: torch.Tensor, b_: torch.Tensor) -> float:
        return float(((x[va] @ w_.T + b_).argmax(1) == y[va]).float().mean()) if va.any() else float("nan")

    report = ColourReport(int(tr.sum()), int(va.sum()), len(labels), accuracy(x_all, w, b), accuracy(x_clip, wc, bc))
    return ColourReader(labels, w, b), report
