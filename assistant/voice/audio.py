"""Audio in: what a client may send, decoded to the 16 kHz mono float samples Whisper reads.

Formats: raw PCM16 (16 kHz, mono, little-endian; what a phone or browser worklet streams) and
containers decoded with PyAV, FFmpeg's libraries (WAV, WebM/Opus, Ogg, MP3, M4A...). Limits
hold before the work they guard: bytes are checked before decoding, and decoding stops as
soon as the audio passes the length limit, so a 10-minute file costs a moment, not a minute.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from assistant.errors import AudioError, AudioTooLong

SAMPLE_RATE = 16_000
AudioFormat = Literal["pcm16", "wav", "webm", "ogg", "mp3", "m4a"]
AUDIO_FORMATS: tuple[str, ...] = get_args(AudioFormat)


@dataclass(frozen=True)
class AudioLimits:
    max_seconds: float = 30.0  # one utterance; a shopper's question, not a dictation
    max_bytes: int = 8 * 1024 * 1024  # compressed or raw, whatever the format

    def check_bytes(self, n: int) -> None:
        if n > self.max_bytes:
            raise AudioTooLong(
                f"the audio is {n / 1e6:.1f} MB; at most {self.max_bytes / 1e6:.0f} MB per utterance",
                zh=f"音频有 {n / 1e6:.1f} MB，每段最多 {self.max_bytes / 1e6:.0f} MB",
            )

    def check_seconds(self, seconds: float) -> None:
        if seconds > self.max_seconds:
            raise AudioTooLong(
                f"the audio is longer than {self.max_seconds:.0f} seconds; send one question at a time",
                zh=f"音频超过 {self.max_seconds:.0f} 秒，请一次问一个问题",
            )


def pcm16_seconds(n_bytes: int) -> float:
    return n_bytes / (2 * SAMPLE_RATE)


def pcm16_samples(data: bytes) -> np.ndarray:
    """Float32 samples of PCM16 bytes; a trailing odd byte (half a sample, mid-stream) is left out."""
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float32) / 32768.0


def decode(data: bytes, fmt: AudioFormat, limits: AudioLimits) -> np.ndarray:
    """Float32 samples in [-1, 1] at 16 kHz mono."""
    limits.check_bytes(len(data))
    if not data:
        raise AudioError("the audio is empty", zh="音频是空的")
    if fmt == "pcm16":
        if len(data) % 2:
            raise AudioError("PCM16 audio must have an even number of bytes (2 per sample)", zh="PCM16 音频的字节数必须是偶数（每个采样 2 字节）")
        limits.check_seconds(pcm16_seconds(len(data)))
        return pcm16_samples(data)
    return _decode_container(data, fmt, limits)


def _decode_container(data: bytes, fmt: str, limits: AudioLimits) -> np.ndarray:
    import av

    max_samples = int(limits.max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    n = 0
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"the {fmt} data holds no audio stream", zh=f"{fmt} 数据里没有音频流")
            for frame in container.decode(audio=0):
                frame.pts = None  # browsers' WebM chunks carry gaps; timing is irrelevant here
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    n += chunk.size
                if n > max_samples:
                    limits.check_seconds(n / SAMPLE_RATE)
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as e:
        raise AudioError(f"the audio is not readable {fmt}: {e.strerror or type(e).__name__}", zh=f"无法读取这段 {fmt} 音频") from None
    if not chunks:
        raise AudioError(f"the {fmt} data holds no audio samples", zh=f"{fmt} 数据里没有音频采样")
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    limits.check_seconds(samples.size / SAMPLE_RATE)
    return samples
