"""WebSocket `/v1/chat`: one socket per session, turns streamed as events.

Connect without a session id for a new session (its id, issued by the server, comes in
`session.created`), or with `?session_id=ID` to resume one: an id the server never issued,
another key's, or one that has expired is refused with `session_unknown`, `session_forbidden`
or `session_expired` and the socket closed (see `session_access`). One socket
per session at a time: a second one gets `session_busy` and is closed, so two clients can
never interleave turns of one session. A new message while an answer is streaming cancels
that answer (`abort`), as does `{"type": "cancel"}`. Every refused input is an `error` event
with a code; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError

from assistant.encoders.images import decode_image_data, load_image
from assistant.errors import AssistantError, SessionStoreUnavailable, VideoError
from assistant.events import PROTOCOL_VERSION, ErrorEvent, to_wire
from assistant.language.text import answer_language
from assistant.server.access import TRY_AGAIN_LATER_CLOSE
from assistant.server.ops import operations
from assistant.server.protocol import CLIENT_EVENT, CLIENT_TYPES, Abort, Heartbeat, MessageEvent, Pong, SessionCreated
from assistant.server.request_ids import bind_session
from assistant.server.services import Services
from assistant.server.session_access import SessionRefusal, gate, owner_of
from assistant.server.shared_state import SocketLeases
from assistant.server.turns import stream_turn
from assistant.server.voice import VoiceChannel
from assistant.video.decode import DecodedClip, decode_video_data, read_clip

HEARTBEAT_S = 15.0
SESSION_BUSY = 4409  # close code: the session is open on another socket
CLAIM_WAIT_S = 2.0  # how long a new socket waits for the session's previous socket to finish closing
CLAIM_RETRY_S = 0.1

router = APIRouter()


class ChatSocket:
    """One connected client: receives events, runs turns, sends everything through one lock."""

    def __init__(self, ws: WebSocket, services: Services, session_id: str) -> None:
        self.ws = ws
        self.services = services
        self.session_id = session_id
        self.turn: asyncio.Task[None] | None = None
        self.awaiting_binary: MessageEvent | None = None  # a message whose photo or clip is the next binary frame
        self._send_lock = asyncio.Lock()
        self.voice = VoiceChannel(self)

    async def send(self, event: BaseModel) -> None:
        async with self._send_lock:
            await self.ws.send_text(to_wire(event))

    async def error(self, code: str, text: str) -> None:
        await self.send(ErrorEvent(error_text=text, code=code))

    def observe_stage(self, stage: str, seconds: float) -> None:
        operations(self.ws).metrics.observe_stage(stage, seconds, channel="voice")

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.send(Heartbeat())

    async def cancel_turn(self) -> bool:
        if self.turn is None or self.turn.done():
            return False
        self.turn.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.turn
        await self.send(Abort())
        return True

    async def run_turn(self, text: str, image: Any, video: DecodedClip | None = None) -> None:
        watch = operations(self.ws).turn_watch("ws")
        turn = stream_turn(self.services.agent, self.services.pool, self.session_id, text, image, watch, video=video)
        async with contextlib.aclosing(turn) as events:  # closed now, not by the garbage collector, if a send fails
            with contextlib.suppress(WebSocketDisconnect):  # the client left mid-answer: no one to tell
                async for event in events:
                    await self.send(event)

    async def start_turn(self, msg: MessageEvent, image_bytes: bytes | None, video: bytes | None = None) -> None:
        if (refusal := await operations(self.ws).admit_turn(self.ws.scope)) is not None:
            await self.send(refusal)  # rate_limited or server_shutting_down; the socket stays open
            return
        if video is not None:  # decoded off the loop; a bad clip is refused before the answer in flight is
            try:
                clip = await asyncio.get_running_loop().run_in_executor(self.services.pool, read_clip, video)
            except VideoError as e:
                await self.error(e.code, e.text(answer_language(msg.text)))
                return
            await self.cancel_turn()
            self.turn = asyncio.create_task(self.run_turn(msg.text, None, clip))
            return
        image = None
        if image_bytes is not None:
            try:
                image = await asyncio.get_running_loop().run_in_executor(self.services.pool, load_image, image_bytes)
            except AssistantError as e:
                await self.error("bad_image", e.text(answer_language(msg.text)))
                return
        await self.cancel_turn()  # barge-in: the new message replaces the answer in flight
        self.turn = asyncio.create_task(self.run_turn(msg.text, image))

    async def on_text(self, raw: str) -> None:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            await self.error("malformed_json", f"the frame is not JSON: {e.msg} at position {e.pos}")
            return
        if not isinstance(data, dict) or data.get("type") not in CLIENT_TYPES:
            kind = data.get("type") if isinstance(data, dict) else type(data).__name__
            await self.error("unknown_event", f"unknown event type {kind!r}; expected one of {list(CLIENT_TYPES)}")
            return
        try:
            event = CLIENT_EVENT.validate_python(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:]) or 'event'}: {err['msg']}" for err in e.errors())
            await self.error("invalid_event", f"invalid {data['type']} event: {problems}")
            return
        if event.type == "ping":
            await self.send(Pong())
        elif event.type == "cancel":
            if not await self.cancel_turn():
                await self.error("nothing_to_cancel", "no answer is in progress")
        elif event.type == "session.update":
            await self.voice.on_session_update(event)
        elif event.type == "input_audio_buffer.append":
            await self.voice.on_append(event)
        elif event.type == "input_audio_buffer.commit":
            await self.voice.on_commit()
        elif event.type == "input_audio_buffer.clear":
            await self.voice.on_clear()
        elif event.video is not None:
            await self.on_video(event)
        elif event.image is None:
            await self.start_turn(event, None)
        elif event.image.binary:
            self.awaiting_binary = event
        elif event.image.data is None:
            await self.error("invalid_event", "image needs `data` (base64) or `binary: true`")
        else:
            try:
                raw_image = decode_image_data(event.image.data)
            except AssistantError as e:
                await self.error("bad_image", e.text(answer_language(event.text)))
                return
            await self.start_turn(event, raw_image)

    async def on_video(self, event: MessageEvent) -> None:
        assert event.video is not None
        if event.image is not None:
            await self.error("invalid_event", "send a photo or a clip in a message, not both")
        elif event.video.binary:
            self.awaiting_binary = event
        elif event.video.data is None:
            await self.error("invalid_event", "video needs `data` (base64) or `binary: true`")
        else:
            try:
                clip = decode_video_data(event.video.data)
            except VideoError as e:
                await self.error(e.code, e.text(answer_language(event.text)))
                return
            await self.start_turn(event, None, clip)

    async def on_bytes(self, data: bytes) -> None:
        if self.awaiting_binary is None:
            await self.error("undeclared_binary", 'a binary frame must follow a message with "image" or "video": {"binary": true, ...}')
            return
        msg, self.awaiting_binary = self.awaiting_binary, None
        if msg.video is not None:
            await self.start_turn(msg, None, data)
        else:
            await self.start_turn(msg, data)


async def claim_soon(leases: SocketLeases, session_id: str) -> bool:
    """The session for this socket, waiting a moment for a socket of it that is closing: a
    client that drops one connection and opens the next (on this replica or another) reaches
    the new one before the server has let the old one go."""
    deadline = asyncio.get_running_loop().time() + CLAIM_WAIT_S
    while not await leases.claim(session_id):
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(CLAIM_RETRY_S)
    return True


@router.websocket("/v1/chat")
async def chat(ws: WebSocket, session_id: str | None = None) -> None:
    services: Services = ws.app.state.services
    await ws.accept()
    loop = asyncio.get_running_loop()
    sessions, owner = gate(services, operations(ws).settings), owner_of(ws.scope)
    try:
        if session_id is None:
            sid = (await loop.run_in_executor(services.pool, sessions.issue, owner)).session_id
        else:
            admitted = await loop.run_in_executor(services.pool, sessions.admit, session_id, owner)
            if isinstance(admitted, SessionRefusal):
                await ws.send_text(to_wire(admitted.event()))
                await ws.close(admitted.close)
                return
            sid = session_id
        bind_session(sid)  # in every log record of this connection
        leases = operations(ws).leases  # this process's, or every replica's (`shared_state`)
        claimed = await claim_soon(leases, sid)
    except SessionStoreUnavailable as e:  # the sessions database is down: say so, and when to retry
        await ws.send_text(to_wire(ErrorEvent(error_text=e.message, code=e.code, retryable=True)))
        await ws.close(TRY_AGAIN_LATER_CLOSE)
        return
    if not claimed:
        await ws.send_text(to_wire(ErrorEvent(error_text=f"session {sid} is open on another connection", code="session_busy")))
        await ws.close(SESSION_BUSY)
        return
    client = ChatSocket(ws, services, sid)
    beat = asyncio.create_task(client.heartbeat())
    try:
        await client.send(SessionCreated(session_id=sid, protocol_version=PROTOCOL_VERSION, resumed=session_id is not None))
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                break
            if frame.get("text") is not None:
                await client.on_text(frame["text"])
            elif frame.get("bytes") is not None:
                await client.on_bytes(frame["bytes"])
    except WebSocketDisconnect:
        pass
    finally:
        beat.cancel()
        if client.turn is not None and not client.turn.done():
            client.turn.cancel()  # the client is gone: stop its answer; the worker finishes its step
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await client.turn
        with contextlib.suppress(SessionStoreUnavailable):  # a lease not let go expires by itself
            await leases.release(sid)
