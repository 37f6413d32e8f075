"""Video shopping: clips decoded within limits, bad clips refused in words, shots found, and the
products a real clip shows found by the real models on a real index."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assistant.errors import NoProductInVideo, VideoError, VideoTooLong
from assistant.video.decode import Frame, VideoLimits, read_clip
from assistant.video.keyframes import shots
from benchmarks.video_clips import make_clip
from tests.kagl_subset import write_subset

KINDS = ("Watches", "Sandals", "Handbags")  # three products of different kinds, one of each


@pytest.fixture(scope="module")
def subset(tmp_path_factory, kagl_csv) -> tuple[Path, list[tuple[str, str, Path]]]:
    """A slice of KAGL to index, and three of its products with photos to film."""
    d = tmp_path_factory.mktemp("video-subset")
    csv_path, rows = write_subset(kagl_csv, d / "subset.csv", per_type=30)
    chosen = [next(r for r in rows if r["article_type"] == kind and r["image"]) for kind in KINDS]
    return csv_path, [(r["id"], r["article_type"], Path(r["image"])) for r in chosen]


@pytest.fixture(scope="module")
def clips(tmp_path_factory, subset) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {codec: Path(make_clip(subset[1], d / f"three-{codec}", codec, seed=5).path) for codec in ("h264", "vp9", "vp8", "h264-mov")}


def _still_clip(path: Path, encoder: str, ext: str, seconds: float = 1.0) -> Path:
    import av

    out = path.with_suffix(ext)
    with av.open(str(out), mode="w") as c:
        s = c.add_stream(encoder, rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * 10)):
            f = av.VideoFrame.from_image(Image.new("RGB", (160, 120), (i * 20 % 255, 90, 160)))
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return out


@pytest.mark.parametrize("codec", ["h264", "vp9", "vp8", "h264-mov"])
def test_each_container_decodes_to_frames_a_few_times_a_second(clips, codec):
    clip = read_clip(clips[codec])
    times = [f.t for f in clip.frames]
    assert times == sorted(times) and times[0] < 0.1
    assert 3.0 <= len(times) / clip.seconds <= 5.0  # about 4 a second, whatever the clip's frame rate
    assert all(max(f.image.size) <= 336 and f.image.mode == "RGB" for f in clip.frames)


def test_shots_follow_the_cuts_and_leave_out_black_gaps(subset, tmp_path):
    m = make_clip(subset[1], tmp_path / "manifested", "h264", seed=5)
    found = shots(read_clip(Path(m.path)).frames)
    assert len(found) == len(m.items)
    for shot, shown in zip(found, m.items, strict=True):
        assert shown.start_s - 0.3 <= shot.frame.t <= shown.end_s + 0.3, (shot, shown)
    black = [Image.new("RGB", (320, 240))] * 3
    assert shots([Frame(t * 0.25, im) for t, im in enumerate(black)]) == []


def test_bad_clips_are_refused_in_words(tmp_path, clips, subset):
    mp4, photo = clips["h264"].read_bytes(), subset[1][0][2]
    cases = {
        "empty": (b"", VideoError, "empty"),
        "not a video": (b"hello, this is text" * 100, VideoError, "not readable"),
        "truncated": (mp4[: len(mp4) // 2], VideoError, "not readable|could be decoded"),
        "still image": (photo.read_bytes(), VideoError, "still image"),
    }
    wav = io.BytesIO()
    import av

    with av.open(wav, mode="w", format="wav") as c:
        s = c.add_stream("pcm_s16le", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
    cases["audio only"] = (wav.getvalue(), VideoError, "only audio")
    cases["unsupported codec"] = (_still_clip(tmp_path / "old", "mpeg2video", ".mpg").read_bytes(), VideoError, "not supported")
    for name, (data, kind, words) in cases.items():
        with pytest.raises(kind, match=words) as e:
            read_clip(data)
        assert e.value.code in ("bad_video", "video_too_long"), name
        assert "Traceback" not in e.value.message and e.value.zh, name


def test_limits_hold_before_the_work(clips):
    data = clips["h264"].read_bytes()
    with pytest.raises(VideoTooLong, match="MB") as e:
        read_clip(data, VideoLimits(max_bytes=len(data) - 1))
    assert e.value.code == "video_too_long"
    started = time.perf_counter()
    with pytest.raises(VideoTooLong, match="longer than 2 seconds"):
        read_clip(data, VideoLimits(max_seconds=2.0))
    assert time.perf_counter() - started < 5.0


# -- the products a clip shows, with the real models ---------------------------------------


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, subset):
    from assistant.catalogue.loader import load_catalogue
    from assistant.config import Settings
    from assistant.index.edge import EdgeIndex
    from assistant.ingest import ingest_catalogue
    from assistant.retrieval.search import Retriever
    from assistant.runtime import load_encoders

    enc = load_encoders(Settings())
    index = EdgeIndex(tmp_path_factory.mktemp("video-index"))
    ingest_catalogue(load_catalogue(subset[0]), index, "kagl", enc, "test", batch_size=32, progress=False)
    yield Retriever(index, "kagl", enc.clip, enc.text, enc.sparse)
    index.close()


@pytest.mark.model
@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_a_clip_of_three_products_gives_a_card_group_for_each(retriever, clips, subset, codec):
    from assistant.video.items import search_video

    result = search_video(retriever, clips[codec].read_bytes(), k=5)
    assert len(result.groups) == 3
    for group, (pid, kind, _) in zip(result.groups, subset[1], strict=True):
        assert pid in [h.product_id for h in group.response.hits], (pid, [h.name for h in group.response.hits])
        assert group.response.hits[0].product.category == kind
    assert [g.item.spans[0][0] for g in result.groups] == sorted(g.item.spans[0][0] for g in result.groups)
    assert result.to_dict()["groups"][0]["seen"]


@pytest.mark.model
def test_products_laid_apart_in_one_shot_each_get_their_group(retriever, subset, tmp_path):
    from assistant.encoders.framing import products_in
    from assistant.video.decode import read_clip
    from assistant.video.items import search_video

    clip = Path(make_clip(subset[1], tmp_path / "apart", "h264", seed=3, apart=True).path)
    frames = read_clip(clip.read_bytes()).frames
    assert len(products_in(frames[len(frames) // 2].image)) == 3  # the three laid apart, left to right
    result = search_video(retriever, clip.read_bytes(), k=5)
    assert len(result.groups) == 3 and result.shots == 1
    found = [[h.product_id for h in g.response.hits] for g in result.groups]
    assert [pid in ids for pid, ids in zip([p for p, _, _ in subset[1]], found, strict=True)] == [True] * 3
    # a product filmed alone stays one product
    single = search_video(retriever, Path(make_clip(subset[1][:1], tmp_path / "one", "h264", seed=5).path))
    assert len(single.groups) == 1


@pytest.mark.model
def test_words_with_a_clip_change_every_group_and_a_clip_of_no_product_is_said(retriever, clips, tmp_path):
    from assistant.video.items import search_video

    result = search_video(retriever, clips["h264"], text="in black")
    assert all(g.response.filters_applied for g in result.groups)
    with pytest.raises(NoProductInVideo) as e:
        search_video(retriever, _still_clip(tmp_path / "wall", "libx264", ".mp4", seconds=2.0).read_bytes())
    assert e.value.code == "no_product_in_video"


@pytest.mark.model
def test_the_video_tool_takes_base64_and_answers_bad_clips_with_a_tool_error(retriever, clips, subset):
    import base64

    from tools.context import ToolContext
    from tools.registry import ToolError, call_tool
    from tools.search_by_video import VideoSearchResult

    ctx = ToolContext(retriever)
    data = base64.b64encode(clips["vp9"].read_bytes()).decode()
    result = call_tool(ctx, "search_by_video", {"video": f"data:video/webm;base64,{data}", "k": 3})
    assert isinstance(result, VideoSearchResult) and len(result.groups) == 3
    assert [g.products[0].id for g in result.groups] == [pid for pid, _, _ in subset[1]]
    assert all(len(g.products) == 3 and g.seen and g.seen[0].end_s > g.seen[0].start_s for g in result.groups)
    for bad, words in (("not base64!", "base64"), (base64.b64encode(b"plain text").decode(), "not readable")):
        err = call_tool(ctx, "search_by_video", {"video": bad})
        assert isinstance(err, ToolError) and words in err.error


def test_products_laid_apart_are_framed_each_and_a_product_in_pieces_stays_one():
    from PIL import ImageDraw

    from assistant.encoders.framing import products_in

    def stage(*boxes: tuple[tuple[int, int, int, int], tuple[int, int, int]]) -> Image.Image:
        im = Image.new("RGB", (480, 360), (150, 160, 170))
        for box, colour in boxes:
            ImageDraw.Draw(im).rectangle(box, fill=colour)
        return im

    apart = products_in(stage(((300, 100, 420, 260), (200, 30, 30)), ((40, 120, 150, 250), (20, 20, 120))))
    assert len(apart) == 2 and all(p.isolated for p in apart)
    left, right = (np.asarray(p.image, dtype=float).reshape(-1, 3) for p in apart)
    assert left[:, 2].mean() > left[:, 0].mean() and right[:, 0].mean() > right[:, 2].mean()  # blue left, red right
    # stripes of the backdrop's colour cut a shirt into pieces a few pixels apart: one product
    pieces = stage(*[((150, y, 330, y + 12), (30, 90, 40)) for y in range(60, 300, 20)])
    assert products_in(pieces) == []
    assert products_in(stage(((150, 80, 330, 280), (30, 90, 40)))) == []  # one product: frame_product's
    assert products_in(Image.effect_noise((480, 360), 120).convert("RGB")) == []  # no one backdrop
    # A clip's frames read the backdrop once for both: the same framing and the same products apart.
    from assistant.encoders.framing import frame_product, framings

    for im in (stage(((300, 100, 420, 260), (200, 30, 30)), ((40, 120, 150, 250), (20, 20, 120))), pieces, Image.effect_noise((480, 360), 120)):
        one, several = framings(im)
        alone = frame_product(im)
        assert (one.isolated, one.whole, np.asarray(one.image).tobytes()) == (alone.isolated, alone.whole, np.asarray(alone.image).tobytes())
        assert [np.asarray(p.image).tobytes() for p in several] == [np.asarray(p.image).tobytes() for p in products_in(im)]
