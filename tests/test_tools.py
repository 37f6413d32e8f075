"""Tools: defined once, exported as OpenAI strict schemas and LangChain tools; failures are ToolErrors."""

from __future__ import annotations

import json

import pytest

from tools.registry import TOOLS, ToolError, call_tool, get_tool, langchain_tools, list_tools, openai_tools

EXPECTED = {
    "search_products",
    "search_by_photo",
    "search_by_video",
    "similar_products",
    "get_product",
    "compare_products",
    "get_facets",
    "view_cart",
    "add_to_cart",
    "remove_from_cart",
    "answer_policy_question",
}


def test_registry_lists_the_tools_and_a_miss_names_them():
    assert EXPECTED <= set(list_tools())
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="search_products"):
        get_tool("nope")


def _walk(schema):
    yield schema
    if isinstance(schema, dict):
        for v in schema.values():
            yield from _walk(v)
    elif isinstance(schema, list):
        for v in schema:
            yield from _walk(v)


def test_openai_schemas_are_strict_mode_compatible():
    specs = {s["function"]["name"]: s for s in openai_tools()}
    assert set(specs) == set(TOOLS)
    for name, spec in specs.items():
        fn = spec["function"]
        assert fn["strict"] is True and fn["description"]
        for node in _walk(fn["parameters"]):
            if isinstance(node, dict) and node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False, name
                assert set(node["required"]) == set(node["properties"]), name
            if isinstance(node, dict):
                assert "default" not in node, name
        json.dumps(spec)  # serialisable as is


def test_langchain_tools_share_the_same_schema():
    lc = {t.name: t for t in langchain_tools(ctx=None)}  # type: ignore[arg-type]
    assert set(lc) == set(TOOLS)
    assert lc["search_products"].args_schema is TOOLS["search_products"].args
    assert lc["get_facets"].description == TOOLS["get_facets"].description


def test_bad_arguments_come_back_as_a_tool_error_not_an_exception():
    err = call_tool(None, "search_products", {"query": "shoes", "k": 500})  # type: ignore[arg-type]
    assert isinstance(err, ToolError) and "k" in err.error
    err = call_tool(None, "compare_products", {"product_ids": ["1"]})  # type: ignore[arg-type]
    assert isinstance(err, ToolError) and "product_ids" in err.error
    assert isinstance(call_tool(None, "launch_rockets", {}), ToolError)  # type: ignore[arg-type]
