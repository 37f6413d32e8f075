"""The WebSocket protocol's client events, and the server's own events around a turn.

Client → server (JSON text frames; `type` picks the event):
    {"type": "message", "text": "...", "image": {"media_type": "image/jpeg", "data": "<base64>"}}
    {"type": "message", "text": "...", "image": {"media_type": "image/png", "binary": true}}
        → the next binary frame is the photo
    {"type": "cancel"}   stop the answer in flight (barge-in)
    {"type": "ping"}     answered by {"type": "pong"}
Server → client: `session.created` first, then per turn the agent's events
(`assistant.events`, AI SDK UI message stream names), `abort` when a turn is cancelled,
`heartbeat` every few seconds, and `error` for every refused input; the socket stays open.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Client(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageInput(_Client):
    media_type: Literal["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]
    data: str | None = None  # base64 of the file
    binary: bool = False  # the file follows as the next binary frame


class MessageEvent(_Client):
    type: Literal["message"]
    text: str = ""
    image: ImageInput | None = None


class CancelEvent(_Client):
    type: Literal["cancel"]


class PingEvent(_Client):
    type: Literal["ping"]


ClientEvent = Annotated[MessageEvent | CancelEvent | PingEvent, Field(discriminator="type")]
CLIENT_EVENT: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)
CLIENT_TYPES: tuple[str, ...] = tuple(get_args(m.model_fields["type"].annotation)[0] for m in (MessageEvent, CancelEvent, PingEvent))


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


ServerEvent = Annotated[SessionCreated | Heartbeat | Pong | Abort, Field(discriminator="type")]
SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
