"""Video in: a shopper's clip decoded to frames sampled a few times a second, or a typed error.

Containers: MP4 and MOV (H.264, HEVC, MPEG-4), WebM and MKV (VP8, VP9, AV1): whatever PyAV,
FFmpeg's libraries, demuxes, with a video stream in one of `VIDEO_CODECS`. Limits hold before
the work they guard: the bytes are counted before the container is opened, a declared duration
over the limit is refused before any frame is decoded, and decoding stops at the first frame
past the limit (a header that lies about the length cannot make the server decode more).

Owns the limits and the decoding; not which frames matter (`video.keyframes`).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from assistant.errors import VideoError, VideoTooLong

# Codecs a phone or browser records; an image codec in a video container is a still, not a clip.
VIDEO_CODECS = frozenset({"h264", "hevc", "mpeg4", "vp8", "vp9", "av1"})
STILL_CODECS = frozenset({"mjpeg", "png", "gif", "bmp", "webp", "tiff", "jpeg2000"})


@dataclass(frozen=True)
class VideoLimits:
    max_seconds: float = 30.0  # a shopper's clip of what they saw, not a film
    max_bytes: int = 50 * 1024 * 1024
    sample_fps: float = 4.0  # frames kept a second: cuts and pans show; 25 fps would repeat itself
    max_side: int = 336  # pixels; CLIP reads 224, the sharpness measure wants a little more


DEFAULT_VIDEO_LIMITS = VideoLimits()


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from the clip's start
    image: Image.Image  # RGB, at most `max_side` on its long side


@dataclass(frozen=True)
class DecodedClip:
    frames: list[Frame]
    seconds: float  # the last decoded frame's time (the container's claim is not trusted)
    codec: str
    width: int
    height: int


def decode_video_data(data: str, limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> bytes:
    """The bytes of a clip sent as text: a data URL (data:video/mp4;base64,...) or plain base64.
    An over-limit payload is refused before it is decoded."""
    payload = data.partition(",")[2] if data.startswith("data:") else data
    if len(payload) > limits.max_bytes * 4 // 3 + 4:
        raise VideoTooLong(f"the video is over the {limits.max_bytes / 1e6:.0f} MB limit", zh=f"视频超过 {limits.max_bytes / 1e6:.0f} MB 的上限")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise VideoError("the video is neither a data URL nor valid base64", zh="视频数据既不是 data URL，也不是有效的 base64") from None


def read_clip(source: bytes | Path, limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> DecodedClip:
    """The clip's sampled frames; `VideoError` / `VideoTooLong` say why not."""
    data = _read_bytes(source, limits)
    if not data:
        raise VideoError("the video is empty", zh="视频是空的")
    import av

    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.video:
                what = "only audio" if container.streams.audio else "no video stream"
                raise VideoError(f"the file holds {what}, not a video clip", zh="这个文件里没有视频画面")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec in STILL_CODECS:
                raise VideoError("this is a still image, not a video clip; send it as a photo", zh="这是一张静态图片，不是视频；请作为照片发送")
            if codec not in VIDEO_CODECS:
                allowed = "H.264 or HEVC (MP4/MOV), VP8, VP9 or AV1 (WebM)"
                raise VideoError(f"video codec {codec!r} is not supported; send {allowed}", zh=f"不支持视频编码 {codec}")
            if container.duration is not None and container.duration / 1e6 > limits.max_seconds + 0.5:
                _too_long(container.duration / 1e6, limits)
            stream.thread_type = "AUTO"
            frames: list[Frame] = []
            next_t, last_t = 0.0, 0.0
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else last_t
                if t > limits.max_seconds:
                    _too_long(t, limits)
                last_t = t
                if t + 1e-6 < next_t:
                    continue
                next_t = t + 1.0 / limits.sample_fps
                image = frame.to_image()
                image.thumbnail((limits.max_side, limits.max_side))
                frames.append(Frame(t, image.convert("RGB")))
    except av.FFmpegError as e:
        raise VideoError(f"the video is not readable: {e.strerror or type(e).__name__}", zh="无法读取这段视频") from None
    if not frames:
        raise VideoError("no frame of the video could be decoded (a truncated or corrupt file?)", zh="视频里没有能解码的画面（文件可能已损坏）")
    return DecodedClip(frames, last_t, codec, stream.codec_context.width, stream.codec_context.height)


def _read_bytes(source: bytes | Path, limits: VideoLimits) -> bytes:
    if isinstance(source, bytes):
        size = len(source)
    else:
        try:
            size = source.stat().st_size
        except OSError as e:
            raise VideoError(f"{source}: cannot read the video file ({e.strerror or e})") from e
    if size > limits.max_bytes:
        raise VideoTooLong(
            f"the video is {size / 1e6:.1f} MB; at most {limits.max_bytes / 1e6:.0f} MB",
            zh=f"视频有 {size / 1e6:.1f} MB，最多 {limits.max_bytes / 1e6:.0f} MB",
        )
    return source if isinstance(source, bytes) else source.read_bytes()


def _too_long(seconds: float, limits: VideoLimits) -> None:
    raise VideoTooLong(
        f"the video is longer than {limits.max_seconds:.0f} seconds ({seconds:.0f} s at least); send a shorter clip",
        zh=f"视频超过 {limits.max_seconds:.0f} 秒，请发送更短的片段",
    )
