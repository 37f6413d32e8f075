"""The event union: AI SDK names on the wire, parsed back by type, schema generated."""

import json

import pytest
from pydantic import ValidationError

from assistant.events import EVENT_ADAPTER, DataProducts, ErrorEvent, TextDelta, ToolInputAvailable, event_schema, to_wire


def test_wire_format_uses_the_ai_sdk_names():
    wire = json.loads(to_wire(ToolInputAvailable(tool_call_id="c1", tool_name="search_products", input={"query": "shoes"})))
    assert wire == {"type": "tool-input-available", "toolCallId": "c1", "toolName": "search_products", "input": {"query": "shoes"}}
    assert json.loads(to_wire(ErrorEvent(error_text="bad", code="bad_image")))["errorText"] == "bad"


def test_wire_json_round_trips():
    ev = ToolInputAvailable(tool_call_id="c1", tool_name="get_product", input={"product_id": "1"})
    assert EVENT_ADAPTER.validate_json(to_wire(ev)) == ev


def test_events_parse_back_by_type():
    ev = EVENT_ADAPTER.validate_python({"type": "text-delta", "id": "t", "delta": "Hi"})
    assert isinstance(ev, TextDelta) and ev.delta == "Hi"
    assert isinstance(EVENT_ADAPTER.validate_python({"type": "data-products", "data": {"products": []}}), DataProducts)


def test_unknown_event_type_is_rejected():
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python({"type": "launch-rockets"})


def test_schema_lists_every_event_type():
    schema = json.dumps(event_schema())
    for t in ("start", "text-delta", "tool-input-available", "tool-output-available", "data-products", "data-facets", "error", "finish"):
        assert f'"{t}"' in schema
