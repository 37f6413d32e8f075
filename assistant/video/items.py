"""What a clip shows, as products to search for: its shots grouped into items, each searched.

Up to `FRAMES_PER_SHOT` frames of each shot are encoded by the catalogue CLIP's image tower,
or by the photo tower for a frame not on the studio's white (`clip.photo_tower`, where it is
loaded: trained on shoppers' scenes, its vectors in the CLIP's space), each both as filmed and
framed as the catalogue photographs products (`encoders.framing`: cropped to the product, on
white), the clip in one batch a tower. A shot's vector is the mean of its
frames' (a pan or a zoom sees the product from several framings; their mean is steadier than
any one frame). Shots whose
vectors are near each other show the same item (the clip came back to the shirt after the
shoes) and become one item. Each item is searched with its vector on the photo-to-photo list
alone (finding the very product filmed; the cross-modal lists a photo search also reads find
its kind, and pulled the filmed product out of the top 5 on the dev clips), with the
shopper's words as filters and in the vector, as a photo search does; one card group per
item, in the order the items first appear. A shot that shows several products laid apart on
one backdrop (a shirt beside its shoes; `encoders.framing.products_in`), unlike each other,
gives one view per product, each from its own crops, and each view is grouped like a shot.
An item whose nearest catalogue photo is far (a
face, a street, a blank wall) shows no product and is dropped; a clip with none left is
`NoProductInVideo`.

Owns the grouping of shots into items and the video search; not decoding (`video.decode`),
the choice of frames (`video.keyframes`) nor the framing of one (`encoders.framing`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from assistant.encoders.base import l2_normalise
from assistant.encoders.framing import Framed, framings, products_in
from assistant.errors import NoProductInVideo
from assistant.index.base import Filters, VectorQuery
from assistant.index.schema import IMAGE
from assistant.retrieval.photo import encode_read
from assistant.retrieval.search import Retriever, SearchRequest, SearchResponse
from assistant.video.decode import DEFAULT_VIDEO_LIMITS, DecodedClip, Frame, VideoLimits, read_clip
from assistant.video.keyframes import Shot, shots

FRAMES_PER_SHOT = 6  # evenly spread over the shot; more add encoder time, not accuracy
# cosine between two shots' vectors above which they show one item (dev clips: one product's
# shots 0.7-0.9, two products' mostly below 0.45)
SAME_ITEM = 0.75
MIN_PRODUCT_SIMILARITY = 0.35  # cosine to the nearest catalogue photo below which an item is no product (a weak test: see README)
PHOTO_TO_PHOTO = {IMAGE: 1.0}
# cosine to the nearest catalogue photo each of a shot's products laid apart needs for the shot
# to be split (dev clips: products laid apart 0.48-0.87; the one single product that fell apart
# had a part at 0.39)
APART_MIN_SIMILARITY = 0.45


@dataclass(frozen=True)
class VideoItem:
    shots: list[Shot]  # in time order
    frame: Frame  # the sharpest of its shots' frames: the one shown as "seen here"
    nearest_photo: float  # cosine of the item's vector to the closest catalogue photo
    vector: np.ndarray  # the mean of its frames' image vectors (as filmed and framed), unit length: what is searched

    @property
    def spans(self) -> list[tuple[float, float]]:
        return [(s.start_s, s.end_s) for s in self.shots]


@dataclass(frozen=True)
class VideoGroup:
    item: VideoItem
    response: SearchResponse


@dataclass
class VideoSearch:
    groups: list[VideoGroup]
    seconds: float  # the clip's length
    frames_sampled: int
    shots: int
    dropped: int  # items that showed no product
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "frames_sampled": self.frames_sampled,
            "shots": self.shots,
            "items_without_product": self.dropped,
            "groups": [
                {
                    "item": n,
                    "seen": [[round(a, 2), round(b, 2)] for a, b in g.item.spans],
                    "frame_s": round(g.item.frame.t, 2),
                    "nearest_photo": round(g.item.nearest_photo, 3),
                    **g.response.to_dict(),
                }
                for n, g in enumerate(self.groups, 1)
            ],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def _spread(frames: tuple[Frame, ...], n: int) -> list[Frame]:
    if len(frames) <= n:
        return list(frames)
    return [frames[round(i * (len(frames) - 1) / (n - 1))] for i in range(n)]


def _greedy_groups(vectors: list[np.ndarray]) -> list[list[int]]:
    """Each vector joins the earlier group it is most like, if like enough (`SAME_ITEM`); else
    it starts a new group. In order of first appearance."""
    groups: list[list[int]] = []
    for i, v in enumerate(vectors):
        sims = [max(float(vectors[j] @ v) for j in members) for members in groups]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= SAME_ITEM:
            groups[best].append(i)
        else:
            groups.append([i])
    return groups


def _laid_apart(shot: Shot, frames: list[Frame], read: dict[int, tuple[Framed, list[Framed]]]) -> list[list[Image.Image]]:
    """The products a shot shows laid apart (`framing.products_in` on its sharpest frame), each
    as its crops from the shot's frames that show as many patches (matched left to right);
    [] when the sharpest frame shows one product, or none apart. `read`: `framing.framings` of
    the frames already read, by `id` of their image."""
    apart = read[id(shot.frame.image)][1] if id(shot.frame.image) in read else products_in(shot.frame.image)
    if len(apart) < 2:
        return []
    crops = [[p.image] for p in apart]
    agree = 1
    for f in frames:
        if f is shot.frame:
            continue
        found = read[id(f.image)][1]
        if len(found) == len(apart):
            agree += 1
            for j, p in enumerate(found):
                crops[j].append(p.image)
    # products laid apart stay apart through the shot; patches that come and go are a product
    # cut by the framing or a speck of the backdrop (on dev clips of one product a shot)
    looked = len(frames) + (not any(f is shot.frame for f in frames))  # the sharpest may be one of them
    return crops if agree * 2 >= looked else []


def items_of(clip_shots: list[Shot], retriever: Retriever) -> tuple[list[VideoItem], int]:
    """The items the shots show, in order of first appearance, and how many showed no product."""
    if not clip_shots:
        return [], 0
    chosen = [_spread(s.members or (s.frame,), FRAMES_PER_SHOT) for s in clip_shots]
    frames = [f.image for shot in chosen for f in shot]
    # Each frame's backdrop read once, for its framing on white and for products laid apart.
    read = {id(im): framings(im) for im in frames}
    apart = [_laid_apart(s, c, read) for s, c in zip(clip_shots, chosen, strict=True)]
    crops = [im for shot in apart for product in shot for im in product]
    framed = [read[id(im)][0].image for im in frames]
    # one batch a tower: a frame not on the studio's white, framed or as filmed, is read by the
    # photo tower where there is one (`clip.photo_tower`); products laid apart by the CLIP
    studio = [read[id(im)][0].studio for im in frames]
    encoded = encode_read(retriever.clip, retriever.photo_tower, framed + frames + crops, studio + studio + [True] * len(crops))
    # Each frame counts twice: framed on white, and as filmed. Either alone found 70-72% of the
    # dev clips' products per shot, their sum 79%: the framing helps where the backdrop
    # misleads, the frame where the framing cut or whitened part of the product.
    n = len(frames)
    rows = encoded[:n] + encoded[n : 2 * n]
    bounds = np.cumsum([0] + [len(shot) for shot in chosen])
    crop_rows = iter(encoded[2 * n :])
    # A view is what one shot shows of one item: the whole shot, or, where the shot shows
    # several products laid apart that are unlike each other, each of them (a pair of shoes is
    # two patches alike: one product). (shot index, its image vectors)
    views: list[tuple[int, np.ndarray]] = []
    for i, shot_apart in enumerate(apart):
        per_product = [np.stack([next(crop_rows) for _ in product]) for product in shot_apart]
        alike = _greedy_groups([l2_normalise(r.mean(axis=0)) for r in per_product])
        parts = [np.concatenate([per_product[j] for j in g]) for g in alike]
        # each part must look like a catalogue product: a face or an arm cut off by the framing does not
        if len(parts) >= 2 and all(_nearest_photo(retriever, l2_normalise(p.mean(axis=0))) >= APART_MIN_SIMILARITY for p in parts):
            views.extend((i, p) for p in parts)
        else:
            views.append((i, rows[bounds[i] : bounds[i + 1]]))
    groups = _greedy_groups([l2_normalise(r.mean(axis=0)) for _, r in views])
    items, dropped = [], 0
    for g in groups:
        vector = l2_normalise(np.concatenate([views[v][1] for v in g]).mean(axis=0))
        near = _nearest_photo(retriever, vector)
        if near < MIN_PRODUCT_SIMILARITY:
            dropped += 1
            continue
        shot_ids = sorted({views[v][0] for v in g})
        sharpest = max(shot_ids, key=lambda i: clip_shots[i].sharpness)
        items.append(VideoItem([clip_shots[i] for i in shot_ids], clip_shots[sharpest].frame, near, vector))
    return items, dropped


def _nearest_photo(retriever: Retriever, vector: np.ndarray) -> float:
    hits = retriever.index.query(retriever.collection_name, [VectorQuery(IMAGE, vector.tolist(), 1)], None, None, 1)
    return float(hits[0].score) if hits else 0.0


def search_video(
    retriever: Retriever,
    source: bytes | Path | DecodedClip,
    text: str | None = None,
    filters: Filters | None = None,
    k: int = 5,
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
) -> VideoSearch:
    """One card group per item the clip shows; `VideoError`s say why a clip cannot be used."""
    t0 = time.perf_counter()
    clip = source if isinstance(source, DecodedClip) else read_clip(source, limits)
    t1 = time.perf_counter()
    clip_shots = shots(clip.frames)
    t2 = time.perf_counter()
    items, dropped = items_of(clip_shots, retriever)
    t3 = time.perf_counter()
    if not items:
        raise NoProductInVideo(
            "no frame of the video shows a product this shop sells; try a steadier, closer shot of the item",
            zh="视频里没有看到本店出售的商品；请拍得更近、更稳一些",
        )
    wanted = filters or Filters()
    groups = [
        VideoGroup(
            item,
            retriever.search(SearchRequest(text=text, image_vector=item.vector, photo_lists=PHOTO_TO_PHOTO, vote=False, filters=wanted, k=k)),
        )
        for item in items
    ]
    t4 = time.perf_counter()
    timings = {"decode": t1 - t0, "shots": t2 - t1, "items": t3 - t2, "search": t4 - t3, "total": t4 - t0}
    return VideoSearch(groups, clip.seconds, len(clip.frames), len(clip_shots), dropped, {k_: v * 1e3 for k_, v in timings.items()})
