"""`POST /v1/chat/stream`: a turn as Server-Sent Events in the AI SDK UI message stream format.

Accepts the body an AI SDK `useChat` client sends (`{"id": chatId, "messages": [UIMessage]}`;
the last user message's text and file parts are the turn) and answers with the header
`x-vercel-ai-ui-message-stream: v1` and `data: <chunk>` lines ending with `data: [DONE]`.
Chunks carry only the fields the AI SDK's schemas allow: the session id goes out as a
`data-session` part, an error's code as a `data-error` part before the `error` chunk.
The chat id is the session id; another key's session is 403 `session_forbidden`, an expired
one 410 `session_expired` (see `session_access`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.encoders.images import decode_image_data, load_image
from assistant.errors import AssistantError, VideoError
from assistant.server.ops import operations
from assistant.server.request_ids import bind_session
from assistant.server.services import Services
from assistant.server.session_access import SessionRefusal, gate, owner_of
from assistant.server.turns import stream_turn
from assistant.video.decode import decode_video_data, read_clip

router = APIRouter()


class UIPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    media_type: str | None = Field(None, alias="mediaType")
    url: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = []


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # useChat adds `trigger`, `messageId`, custom body fields
    id: str = Field(min_length=1, max_length=200, description="The chat id: the session id")
    messages: list[UIMessage] = Field(min_length=1)


def ai_sdk_chunks(event: BaseModel) -> list[dict[str, Any]]:
    """An agent event as AI SDK UI message stream chunks (only fields its schemas know)."""
    wire = event.model_dump(mode="json", by_alias=True)
    kind = wire["type"]
    if kind == "start":
        return [{"type": "start", "messageId": wire["messageId"]}, {"type": "data-session", "data": {"session_id": wire["session_id"]}}]
    if kind == "error":
        code = {"code": wire["code"], "retryable": wire["retryable"]}
        return [{"type": "data-error", "data": code}, {"type": "error", "errorText": wire["errorText"]}]
    return [wire]


def _turn_input(req: ChatRequest) -> tuple[str, bytes | None, bytes | None]:
    """The turn's words, photo and clip (a file part of `image/*` or `video/*` as a data URL)."""
    user = next((m for m in reversed(req.messages) if m.role == "user"), None)
    if user is None:
        raise HTTPException(422, "the request has no user message")
    text = " ".join(p.text for p in user.parts if p.type == "text" and p.text)
    image = video = None
    for p in user.parts:
        if p.type != "file" or not p.url or not p.url.startswith("data:"):
            continue
        try:
            if (p.media_type or "").startswith("image/"):
                image = decode_image_data(p.url)
            elif (p.media_type or "").startswith("video/"):
                video = decode_video_data(p.url)
        except AssistantError as e:
            raise HTTPException(422, f"the file part: {e.message}") from None
    if image is not None and video is not None:
        raise HTTPException(422, "send a photo or a clip in a message, not both")
    return text, image, video


class Refused(BaseModel):
    detail: str | list[dict[str, Any]]  # a sentence (no user message, a bad photo), or the body's validation errors


@router.post(
    "/v1/chat/stream",
    response_class=StreamingResponse,
    responses={
        422: {"model": Refused, "description": "The body is invalid, has no user message, or a photo that cannot be read"},
        403: {"description": "session_forbidden: the chat id is another API key's session"},
        410: {"description": "session_expired: the session was idle too long and is deleted"},
    },
)
async def chat_stream(body: ChatRequest, request: Request) -> StreamingResponse:
    services: Services = request.app.state.services
    bind_session(body.id)
    text, raw, video = _turn_input(body)
    # useChat makes its chat ids on the client: an unknown one starts a session, bound to its caller.
    sessions = gate(services, operations(request).settings)
    admitted = await asyncio.get_running_loop().run_in_executor(services.pool, sessions.admit, body.id, owner_of(request.scope), True)
    if isinstance(admitted, SessionRefusal):
        return JSONResponse({"detail": admitted.text, "code": admitted.code}, status_code=admitted.status)  # type: ignore[return-value]
    image = clip = None
    if raw is not None:
        try:
            image = await asyncio.get_running_loop().run_in_executor(services.pool, load_image, raw)
        except AssistantError as e:
            raise HTTPException(422, e.message) from None
    if video is not None:
        try:
            clip = await asyncio.get_running_loop().run_in_executor(services.pool, read_clip, video)
        except VideoError as e:
            raise HTTPException(422, f"the clip: {e.message}") from None

    async def lines() -> AsyncIterator[str]:
        async for event in stream_turn(services.agent, services.pool, body.id, text, image, operations(request).turn_watch("sse"), video=clip):
            for chunk in ai_sdk_chunks(event):
                yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"
        yield "data: [DONE]\n\n"

    headers = {"x-vercel-ai-ui-message-stream": "v1", "cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(lines(), media_type="text/event-stream", headers=headers)
