"""The one typed event stream of a turn: what the agent emits and every client receives.

Each event is a pydantic model with a literal `type`; `Event` is their discriminated union.
Names follow the Vercel AI SDK UI message stream (`start`, `text-delta`,
`tool-input-available`, `tool-output-available`, `data-*`, `error`, `finish`) so an
unmodified AI SDK client can read them; audio input events (assistant.server.protocol) follow the OpenAI Realtime
API. `PROTOCOL_VERSION` changes whenever a model here changes incompatibly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = "1"


class _Event(BaseModel):
    # Wire names are the AI SDK's camelCase; Python code may use the snake_case names.
    model_config = ConfigDict(populate_by_name=True)


class Start(_Event):
    type: Literal["start"] = "start"
    message_id: str = Field(alias="messageId")
    session_id: str


class TextStart(_Event):
    type: Literal["text-start"] = "text-start"
    id: str


class TextDelta(_Event):
    type: Literal["text-delta"] = "text-delta"
    id: str
    delta: str


class TextEnd(_Event):
    type: Literal["text-end"] = "text-end"
    id: str


class ToolInputAvailable(_Event):
    type: Literal["tool-input-available"] = "tool-input-available"
    tool_call_id: str = Field(alias="toolCallId")
    tool_name: str = Field(alias="toolName")
    input: dict[str, Any]


class ToolOutputAvailable(_Event):
    type: Literal["tool-output-available"] = "tool-output-available"
    tool_call_id: str = Field(alias="toolCallId")
    output: dict[str, Any]


class DataProducts(_Event):
    """Product cards to show, with why each was found."""

    type: Literal["data-products"] = "data-products"
    data: dict[str, Any]  # {"products": [...], "filters_applied": [...], "filters_relaxed": [...]}


class DataFacets(_Event):
    """A clarifying question's options: values with counts, each a refinement when chosen."""

    type: Literal["data-facets"] = "data-facets"
    data: dict[str, Any]  # {"field": "brand", "values": [{"value": "Nike", "count": 42}, ...]}


class DataNotice(_Event):
    """Something the client should know that is not an error of the shopper's input, e.g.
    {"code": "llm_unavailable", "text": "..."} when the answer falls back to templates."""

    type: Literal["data-notice"] = "data-notice"
    data: dict[str, Any]  # {"code": str, "text": str}


class DataToolReview(_Event):
    """A call a tool-calling model proposed, as it proposed it, and what the review made of
    it: {"tool", "proposed", "action": "kept" | "repaired" | "refused", "reason"}. A kept or
    repaired call is then run, with its own tool-input/output events."""

    type: Literal["data-tool-review"] = "data-tool-review"
    data: dict[str, Any]


class ErrorEvent(_Event):
    """A refused input or a failed step; the session stays usable."""

    type: Literal["error"] = "error"
    error_text: str = Field(alias="errorText")
    code: str  # machine-readable: "empty_message", "bad_image", "tool_failed", ...
    retryable: bool = False


class Finish(_Event):
    type: Literal["finish"] = "finish"


Event = Annotated[
    Start
    | TextStart
    | TextDelta
    | TextEnd
    | ToolInputAvailable
    | ToolOutputAvailable
    | DataProducts
    | DataFacets
    | DataNotice
    | DataToolReview
    | ErrorEvent
    | Finish,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def to_wire(event: BaseModel) -> str:
    """One event as the JSON a client receives (AI SDK field names)."""
    return event.model_dump_json(by_alias=True)


def event_schema() -> dict[str, Any]:
    """JSON Schema of the event union, for docs and client generators."""
    return EVENT_ADAPTER.json_schema(by_alias=True)
