"""The WebSocket protocol's client events, and the server's own events around a turn.

Client → server (JSON text frames; `type` picks the event):
    {"type": "message", "text": "...", "image": {"media_type": "image/jpeg", "data": "<base64>"}}
    {"type": "message", "text": "...", "image": {"media_type": "image/png", "binary": true}}
        → the next binary frame is the photo
    {"type": "cancel"}   stop the answer in flight (barge-in)
    {"type": "ping"}     answered by {"type": "pong"}
    Voice, named after the OpenAI Realtime API:
    {"type": "session.update", "session": {"input_audio_language": "en", "output_audio": true}}
    {"type": "input_audio_buffer.append", "audio": "<base64>", "format": "pcm16"}
    {"type": "input_audio_buffer.commit"}   the utterance is complete: transcribe and answer
    {"type": "input_audio_buffer.clear"}
Server → client: `session.created` first, then per turn the agent's events
(`assistant.events`, AI SDK UI message stream names), `abort` when a turn is cancelled,
`heartbeat` every few seconds, and `error` for every refused input; the socket stays open.
Voice turns add transcripts before the turn's events and spoken audio after its text.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from assistant.voice.audio import AudioFormat


class _Client(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageInput(_Client):
    media_type: Literal["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]
    data: str | None = None  # base64 of the file
    binary: bool = False  # the file follows as the next binary frame


class VideoInput(_Client):
    media_type: Literal["video/mp4", "video/webm", "video/quicktime"]
    data: str | None = None  # base64 of the file
    binary: bool = False  # the file follows as the next binary frame


class MessageEvent(_Client):
    type: Literal["message"]
    text: str = ""
    image: ImageInput | None = None
    video: VideoInput | None = None  # a clip: one card group per product it shows (not with `image`)


class CancelEvent(_Client):
    type: Literal["cancel"]


class PingEvent(_Client):
    type: Literal["ping"]


class VoiceSession(_Client):
    """Voice settings of this socket; fields left out keep their value."""

    # ISO 639-1 code of the language the shopper speaks ("en", "zh", ...); null: detect it per
    # utterance (one more Whisper encoder pass after the utterance ends, about half a second here).
    input_audio_language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    output_audio: bool | None = None  # speak answers to voice input (default true)


class SessionUpdateEvent(_Client):
    type: Literal["session.update"]
    session: VoiceSession


class AudioAppendEvent(_Client):
    type: Literal["input_audio_buffer.append"]
    audio: str  # base64: PCM16 16 kHz mono little-endian, or a chunk of a container file
    format: AudioFormat = "pcm16"  # every chunk of one utterance has the same format


class AudioCommitEvent(_Client):
    type: Literal["input_audio_buffer.commit"]


class AudioClearEvent(_Client):
    type: Literal["input_audio_buffer.clear"]


_CLIENT_MODELS = (MessageEvent, CancelEvent, PingEvent, SessionUpdateEvent, AudioAppendEvent, AudioCommitEvent, AudioClearEvent)
ClientEvent = Annotated[
    MessageEvent | CancelEvent | PingEvent | SessionUpdateEvent | AudioAppendEvent | AudioCommitEvent | AudioClearEvent,
    Field(discriminator="type"),
]
CLIENT_EVENT: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)
CLIENT_TYPES: tuple[str, ...] = tuple(get_args(m.model_fields["type"].annotation)[0] for m in _CLIENT_MODELS)


class SessionCreated(BaseModel):
    type: Literal["session.created"] = "session.created"
    session_id: str
    protocol_version: str
    resumed: bool  # true when the session already existed (a reconnect)


class Heartbeat(BaseModel):
    type: Literal["heartbeat"] = "heartbeat"


class Pong(BaseModel):
    type: Literal["pong"] = "pong"


class Abort(BaseModel):
    """The AI SDK's chunk for a stream stopped on request."""

    type: Literal["abort"] = "abort"


class SessionUpdated(BaseModel):
    type: Literal["session.updated"] = "session.updated"
    input_audio_language: str | None
    output_audio: bool


class SpeechStarted(BaseModel):
    """Speech was heard while an answer was streaming or playing: the client stops playback."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str


class AudioCommitted(BaseModel):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    audio_seconds: float


class AudioCleared(BaseModel):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class TranscriptDelta(BaseModel):
    """A partial transcript: the whole hypothesis so far (later ones may revise it)."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = "conversation.item.input_audio_transcription.delta"
    item_id: str
    transcript: str


class HeardAs(BaseModel):
    heard: str  # as transcribed ("spots shoes")
    term: str  # the catalogue term it was taken for ("sports shoes")
    alternatives: list[str]


class HeardAgain(BaseModel):
    text: str  # the reading of the audio that names a kind of product ("blue jeans for men.")
    kind: str  # the kind it names
    logprob: float  # Whisper's mean log-probability per token of the reading
    sure: bool  # searched at once (true) or offered as a question (false), where the message is a search
    alternatives: list[str]
    replaces: str | None = None  # the kind the transcript named that `kind` names in full ("ring" → "earrings")


class TranscriptCompleted(BaseModel):
    type: Literal["conversation.item.input_audio_transcription.completed"] = "conversation.item.input_audio_transcription.completed"
    item_id: str
    transcript: str  # as spoken
    language: str
    query: str  # what the turn runs on: the transcript (corrected against the catalogue), or its English translation
    # Words taken for the catalogue terms they sound like, with the next closest terms.
    corrections: list[HeardAs] = Field(default_factory=list)
    # A transcript naming no kind of product, or one a longer kind's name holds, heard again with the catalogue's terms.
    reheard: HeardAgain | None = None


class AudioDelta(BaseModel):
    """A piece of the spoken answer, in order."""

    type: Literal["response.audio.delta"] = "response.audio.delta"
    item_id: str
    audio: str  # base64 PCM16 little-endian mono
    sample_rate: int


class AudioDone(BaseModel):
    type: Literal["response.audio.done"] = "response.audio.done"
    item_id: str


ServerEvent = Annotated[
    SessionCreated
    | Heartbeat
    | Pong
    | Abort
    | SessionUpdated
    | SpeechStarted
    | AudioCommitted
    | AudioCleared
    | TranscriptDelta
    | TranscriptCompleted
    | AudioDelta
    | AudioDone,
    Field(discriminator="type"),
]
SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
