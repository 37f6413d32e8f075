"""The frames of a clip worth looking at: one sharp frame per shot, blank frames left out.

A clip of products is a few shots (a cut from the shirt to the shoes) with the camera moving
inside each (a pan, a zoom). Consecutive sampled frames are compared by their colour
histograms: a jump far above the clip's usual frame-to-frame change is a cut; a pan or zoom
changes the histogram a little at a time and stays one shot. Inside a shot the sharpest frame
(variance of the Laplacian) stands for it, so a frame blurred by motion is never the one
searched. Frames with almost no detail (a black frame, a fade, a lens cap) belong to no shot.

Owns the shot boundaries and the choice of frame; not decoding (`video.decode`) and not what
the frames show (`video.items`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.video.decode import Frame

THUMB = 64  # pixels; histograms and sharpness are measured on a thumbnail this size
BINS = 8  # per RGB channel: 512 bins
CUT_DISTANCE = 0.35  # L1 distance between normalised histograms (0..2) above which a cut is certain
CUT_FACTOR = 4.0  # ...or this many times the clip's median frame-to-frame distance
MIN_DETAIL = 6.0  # grey-level standard deviation below which a frame is blank
MAX_SHOTS = 12  # a clip of thirty seconds has rarely more; more would cost encoder time


@dataclass(frozen=True)
class Shot:
    start_s: float
    end_s: float
    frame: Frame  # the sharpest of the shot
    frames: int  # sampled frames in the shot
    sharpness: float
    members: tuple[Frame, ...] = ()  # the shot's sampled frames, in time order


def _thumb(frame: Frame) -> np.ndarray:
    return np.asarray(frame.image.resize((THUMB, THUMB)), dtype=np.float32)


def histogram(rgb: np.ndarray) -> np.ndarray:
    q = np.clip((rgb / 256.0 * BINS).astype(np.int32), 0, BINS - 1)
    idx = (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]
    h = np.bincount(idx.ravel(), minlength=BINS**3).astype(np.float32)
    return h / h.sum()


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image: high for edges in focus."""
    g = rgb.mean(axis=-1)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def shots(frames: list[Frame], max_shots: int = MAX_SHOTS) -> list[Shot]:
    """The clip's shots in time order, each with its sharpest frame; blank frames end a shot
    and belong to none. At most `max_shots`: the longest are kept."""
    thumbs = [_thumb(f) for f in frames]
    hists = [histogram(t) for t in thumbs]
    blank = [float(t.mean(axis=-1).std()) < MIN_DETAIL for t in thumbs]
    dists = [float(np.abs(hists[i] - hists[i - 1]).sum()) for i in range(1, len(frames))]
    usual = float(np.median(dists)) if dists else 0.0
    threshold = min(CUT_DISTANCE, max(CUT_FACTOR * usual, 0.1))
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(frames)):
        cut = i > 0 and dists[i - 1] > threshold
        if blank[i] or cut:
            if current:
                groups.append(current)
            current = []
        if not blank[i]:
            current.append(i)
    if current:
        groups.append(current)
    out = []
    for g in groups:
        sharp = {i: sharpness(thumbs[i]) for i in g}
        best = max(g, key=sharp.__getitem__)
        end = frames[g[-1] + 1].t if g[-1] + 1 < len(frames) else frames[g[-1]].t
        out.append(Shot(frames[g[0]].t, end, frames[best], len(g), sharp[best], tuple(frames[i] for i in g)))
    if len(out) > max_shots:
        keep = set(sorted(range(len(out)), key=lambda k: out[k].frames, reverse=True)[:max_shots])
        out = [s for k, s in enumerate(out) if k in keep]
    return out
