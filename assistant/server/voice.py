"""Voice over the chat socket: audio in, transcripts, the turn, spoken audio out.

One `VoiceChannel` per socket holds the utterance being received. Events follow the OpenAI
Realtime API's names: `input_audio_buffer.append` chunks (PCM16 16 kHz or a container),
`input_audio_buffer.commit` ends the utterance. While raw PCM16 streams in, Whisper gives a
partial transcript every second of speech; after commit: `input_audio_buffer.committed`, the
final transcript, the turn's usual events, and the answer spoken clause by clause
(`response.audio.delta`, then `response.audio.done`).

Barge-in: the first chunk of an utterance that holds speech (by its loudness for PCM16; any
chunk of a container, whose sound can only be judged once whole) cancels the answer in flight
and tells the client to stop playing (`input_audio_buffer.speech_started`). A voice turn is one
task: cancelling it stops transcription's wait, the turn and the speech together.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from fastapi import WebSocketDisconnect

from assistant.errors import AssistantError, AudioError, AudioTooLong
from assistant.events import TextDelta
from assistant.server.ops import operations
from assistant.server.protocol import (
    AudioAppendEvent,
    AudioCleared,
    AudioCommitted,
    AudioDelta,
    AudioDone,
    HeardAgain,
    HeardAs,
    SessionUpdated,
    SessionUpdateEvent,
    SpeechStarted,
    TranscriptCompleted,
    TranscriptDelta,
)
from assistant.server.turns import stream_turn
from assistant.voice.audio import SAMPLE_RATE, AudioFormat, decode, pcm16_samples, pcm16_seconds
from assistant.voice.rehearing import Reheard
from assistant.voice.speech import SAMPLE_RATE as SPEECH_RATE
from assistant.voice.speech import SpokenAnswer

if TYPE_CHECKING:
    from assistant.server.chat_ws import ChatSocket

log = logging.getLogger(__name__)

SPEECH_RMS = 0.01  # PCM16 chunk loudness (full scale 1.0) above which it counts as speech
PARTIAL_EVERY_S = 1.0  # new speech between two partial transcripts
AUDIO_CHUNK_S = 0.5  # spoken answer sent in pieces of this length, so playback starts early


@dataclass
class Utterance:
    item_id: str
    format: AudioFormat
    chunks: list[bytes] = field(default_factory=list)
    n_bytes: int = 0
    heard_speech: bool = False
    partial_at_bytes: int = 0  # buffer size at the last partial transcript

    def data(self) -> bytes:
        return b"".join(self.chunks)


class VoiceChannel:
    def __init__(self, client: ChatSocket) -> None:
        self.client = client
        self.services = client.services
        self.language: str | None = None  # null: detect per utterance
        self.output_audio = True
        self.utterance: Utterance | None = None
        self.partial: asyncio.Task[None] | None = None

    # -- client events -----------------------------------------------------------------

    async def on_session_update(self, event: SessionUpdateEvent) -> None:
        fields = event.session.model_fields_set
        if "input_audio_language" in fields:
            self.language = event.session.input_audio_language
        if "output_audio" in fields and event.session.output_audio is not None:
            self.output_audio = event.session.output_audio
        await self.client.send(SessionUpdated(input_audio_language=self.language, output_audio=self.output_audio))

    async def on_append(self, event: AudioAppendEvent) -> None:
        if self.services.transcriber is None:
            await self.client.error("voice_unavailable", "this server has no speech recognition loaded")
            return
        try:
            chunk = base64.b64decode(event.audio, validate=True)
        except (binascii.Error, ValueError):
            await self.client.error("bad_audio", "`audio` is not valid base64")
            return
        u = self.utterance
        if u is not None and u.format != event.format:
            await self.client.error("bad_audio", f"this utterance is {u.format}; a chunk in {event.format} cannot join it (commit or clear first)")
            return
        if u is None:
            u = self.utterance = Utterance(item_id=f"item_{uuid.uuid4().hex[:16]}", format=event.format)
        limits = self.services.audio_limits
        try:
            limits.check_bytes(u.n_bytes + len(chunk))
            if u.format == "pcm16":
                limits.check_seconds(pcm16_seconds(u.n_bytes + len(chunk)))
        except AudioTooLong as e:
            self.drop_utterance()
            await self.client.error(e.code, e.message)
            return
        u.chunks.append(chunk)
        u.n_bytes += len(chunk)
        if not u.heard_speech and _sounds_like_speech(chunk, u.format):
            u.heard_speech = True
            await self.client.cancel_turn()  # barge-in: the shopper talks over the answer
            await self.client.send(SpeechStarted(item_id=u.item_id))
        if u.format == "pcm16" and u.heard_speech and self._partial_due(u):
            u.partial_at_bytes = u.n_bytes
            self.partial = asyncio.create_task(self._partial_transcript(u.item_id, u.data()))

    async def on_commit(self) -> None:
        u, self.utterance = self.utterance, None
        if u is None or not u.n_bytes:
            await self.client.error("empty_audio_buffer", "nothing to commit: append audio first")
            return
        if (refusal := await operations(self.client.ws).admit_turn(self.client.ws.scope)) is not None:
            self._stop_partial()
            await self.client.send(refusal)  # rate_limited or server_shutting_down; the socket stays open
            return
        self._stop_partial()
        await self.client.cancel_turn()
        self.client.turn = asyncio.create_task(self.voice_turn(u))

    async def on_clear(self) -> None:
        self.drop_utterance()
        await self.client.send(AudioCleared())

    def drop_utterance(self) -> None:
        self.utterance = None
        self._stop_partial()

    # -- partial transcripts -----------------------------------------------------------

    def _partial_due(self, u: Utterance) -> bool:
        busy = self.partial is not None and not self.partial.done()
        return not busy and pcm16_seconds(u.n_bytes - u.partial_at_bytes) >= PARTIAL_EVERY_S

    def _stop_partial(self) -> None:
        if self.partial is not None and not self.partial.done():
            self.partial.cancel()  # its Whisper call finishes in the pool; its result is dropped
        self.partial = None

    async def _partial_transcript(self, item_id: str, data: bytes) -> None:
        transcriber = self.services.transcriber
        assert transcriber is not None
        samples = pcm16_samples(data)
        loop = asyncio.get_running_loop()
        try:
            text = await loop.run_in_executor(self.services.pool, transcriber.hypothesis, samples, self.language)
        except AssistantError:
            return  # a partial is a courtesy; the final transcript reports real problems
        if text and self.utterance is not None and self.utterance.item_id == item_id:
            await self.client.send(TranscriptDelta(item_id=item_id, transcript=text))

    # -- the voice turn ----------------------------------------------------------------

    async def voice_turn(self, u: Utterance) -> None:
        with contextlib.suppress(WebSocketDisconnect):  # the client left mid-answer: no one to tell
            await self._voice_turn(u)

    async def _voice_turn(self, u: Utterance) -> None:
        services = self.services
        transcriber = services.transcriber
        assert transcriber is not None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            samples = await loop.run_in_executor(services.pool, decode, u.data(), u.format, services.audio_limits)
            await self.client.send(AudioCommitted(item_id=u.item_id, audio_seconds=round(samples.size / SAMPLE_RATE, 3)))
            transcript = await loop.run_in_executor(services.pool, transcriber.transcribe, samples, self.language)
        except AudioError as e:
            # A declared Mandarin session hears why in Chinese; a detected one is not known yet.
            await self.client.error(e.code, e.text("zh" if (self.language or "").startswith("zh") else "en"))
            return
        self.client.observe_stage("transcribe", time.perf_counter() - started)
        await self.client.send(
            TranscriptCompleted(
                item_id=u.item_id,
                transcript=transcript.text,
                language=transcript.language,
                query=transcript.query,
                corrections=[HeardAs(heard=c.heard, term=c.term, alternatives=list(c.alternatives)) for c in transcript.corrections],
                reheard=_heard_again(transcript.reheard),
            )
        )
        speak = self.output_audio and services.speaker is not None
        voice = _AnswerVoice(self, u.item_id, started) if speak else None
        try:
            watch = operations(self.client.ws).turn_watch("voice")
            turn = stream_turn(services.agent, services.pool, self.client.session_id, transcript.query, None, watch, transcript.doubt)
            async with contextlib.aclosing(turn) as events:  # closed now, not by the garbage collector, if a send fails
                async for event in events:
                    await self.client.send(event)
                    if voice is not None and isinstance(event, TextDelta):
                        voice.feed(event.delta)
            if voice is not None:
                await voice.finish()
        finally:
            if voice is not None:
                voice.stop()


class _AnswerVoice:
    """Speaks an answer's text as it streams: clauses queue up, one task synthesises and sends."""

    def __init__(self, channel: VoiceChannel, item_id: str, started: float) -> None:
        self.channel = channel
        self.item_id = item_id
        self.started = started
        self.spoken = SpokenAnswer()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._speak())

    def feed(self, delta: str) -> None:
        for clause in self.spoken.feed(delta):
            self.queue.put_nowait(clause)

    async def finish(self) -> None:
        for clause in self.spoken.flush():
            self.queue.put_nowait(clause)
        self.queue.put_nowait(None)
        await self.task
        await self.channel.client.send(AudioDone(item_id=self.item_id))

    def stop(self) -> None:
        if not self.task.done():
            self.task.cancel()

    async def _speak(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):  # the client left: stop speaking quietly
            await self._speak_clauses()

    async def _speak_clauses(self) -> None:
        services = self.channel.services
        speaker = services.speaker
        assert speaker is not None
        loop = asyncio.get_running_loop()
        first = True
        piece = int(AUDIO_CHUNK_S * SPEECH_RATE) * 2
        while (clause := await self.queue.get()) is not None:
            try:
                pcm = await loop.run_in_executor(services.pool, speaker.synthesize, clause)
            except AssistantError as e:
                log.warning("speech synthesis failed: %s", e.message)
                continue  # the text of the answer stands; a clause unspoken is not an error of the shopper's
            for i in range(0, len(pcm), piece):
                if first:
                    self.channel.client.observe_stage("tts_first_audio", time.perf_counter() - self.started)
                    first = False
                audio = base64.b64encode(pcm[i : i + piece]).decode()
                await self.channel.client.send(AudioDelta(item_id=self.item_id, audio=audio, sample_rate=SPEECH_RATE))


def _sounds_like_speech(chunk: bytes, fmt: AudioFormat) -> bool:
    if fmt != "pcm16":
        return True  # a container chunk cannot be judged alone; a client sends one when it records speech
    x = pcm16_samples(chunk)
    return x.size > 0 and float(np.sqrt(np.mean(x * x))) > SPEECH_RMS


def _heard_again(r: Reheard | None) -> HeardAgain | None:
    if r is None:
        return None
    return HeardAgain(text=r.text, kind=r.kind, logprob=r.logprob, sure=r.sure, alternatives=list(r.alternatives), replaces=r.replaces)
