"""Image checks: turning bytes or a file into a safe RGB image, or a typed `ImageError`.

Owns the limits on image input (bytes, pixels) and the decoding. Every image that reaches a
model passes through `load_image`, so a corrupt file, a non-image named .jpg or a
decompression bomb fails here with a clear message instead of deep inside a model.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from assistant.errors import ImageError


@dataclass(frozen=True)
class ImageLimits:
    """Refuse images beyond these: 20 MB and 40 megapixels by default."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


DEFAULT_LIMITS = ImageLimits()


def decode_image_data(data: str, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of an image sent as text: a data URL (data:image/png;base64,...) or plain base64.

    Refuses an over-limit payload before decoding it, and bad base64, with `ImageError`; the
    bytes still go through `load_image` to become an image."""
    payload = data.partition(",")[2] if data.startswith("data:") else data
    if len(payload) > limits.max_bytes * 4 // 3 + 4:
        raise ImageError(f"image is over the {limits.max_bytes / 1e6:.0f} MB limit", zh=f"图片超过 {limits.max_bytes / 1e6:.0f} MB 的上限")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("image is neither a data URL nor valid base64", zh="图片数据既不是 data URL，也不是有效的 base64") from None


def load_image(source: Path | str | bytes, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """Decode an image fully and return it as RGB, or raise `ImageError` saying why not."""
    name = "image" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise ImageError(f"{name}: cannot read image file ({e.strerror or e})") from e
        if size > limits.max_bytes:
            raise ImageError(
                f"{name}: image is {size / 1e6:.1f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit",
                zh=f"图片有 {size / 1e6:.1f} MB，超过 {limits.max_bytes / 1e6:.0f} MB 的上限",
            )
        data = path.read_bytes()
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"{name}: image is {len(data) / 1e6:.1f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit",
            zh=f"图片有 {len(data) / 1e6:.1f} MB，超过 {limits.max_bytes / 1e6:.0f} MB 的上限",
        )
    if not data:
        raise ImageError(f"{name}: empty file, not an image", zh="文件是空的，不是图片")
    try:
        with warnings.catch_warnings():
            # PIL warns, then raises, on huge images; we check the size ourselves first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > limits.max_pixels:
                raise ImageError(
                    f"{name}: image is {w}x{h} ({w * h / 1e6:.0f} megapixels), over the {limits.max_pixels / 1e6:.0f} megapixel limit",
                    zh=f"图片尺寸为 {w}x{h}，超过 {limits.max_pixels / 1e6:.0f} 百万像素的上限",
                )
            img.load()  # decodes every byte: a truncated file fails here, not later
            return img.convert("RGB")
    except ImageError:
        raise
    except UnidentifiedImageError as e:
        raise ImageError(f"{name}: not an image (unrecognised format)", zh="这不是图片（无法识别的格式）") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{name}: corrupt or truncated image ({e})", zh="图片已损坏或不完整") from e
