"""The tool registry: each tool defined once (typed arguments and result, a function),
exported as LangChain tools for the agent and as OpenAI function-tool schemas (strict mode)
for other agents.

Descriptions are prompts: they live in `prompts/tools/<name>.txt` and are reviewed like code.
Calling a tool validates its arguments first; a bad argument or a failed call comes back
as a `ToolError` the agent can read, never as an exception that ends the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.errors import AssistantError, ConfigError
from tools.cart import AddToCartArgs, Cart, RemoveFromCartArgs, ViewCartArgs, add_to_cart, remove_from_cart, view_cart
from tools.context import ToolContext
from tools.get_facets import Facets, GetFacetsArgs, get_facets
from tools.get_product import CompareProductsArgs, Comparison, GetProductArgs, compare_products, get_product
from tools.policy import PolicyAnswerResult, PolicyQuestionArgs, answer_policy_question
from tools.search_by_photo import SearchByPhotoArgs, search_by_photo
from tools.search_by_video import SearchByVideoArgs, VideoSearchResult, search_by_video
from tools.search_products import SearchProductsArgs, search_products
from tools.similar_products import SimilarProductsArgs, similar_products
from tools.types import ProductCard, SearchResult

PROMPTS = Path(__file__).resolve().parents[1] / "prompts" / "tools"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tool:
    name: str
    args: type[BaseModel]
    result: type[BaseModel]
    fn: Callable[[ToolContext, Any], BaseModel]

    @property
    def description(self) -> str:
        return (PROMPTS / f"{self.name}.txt").read_text(encoding="utf-8").strip()


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("search_products", SearchProductsArgs, SearchResult, search_products),
        Tool("search_by_photo", SearchByPhotoArgs, SearchResult, search_by_photo),
        Tool("search_by_video", SearchByVideoArgs, VideoSearchResult, search_by_video),
        Tool("similar_products", SimilarProductsArgs, SearchResult, similar_products),
        Tool("get_product", GetProductArgs, ProductCard, get_product),
        Tool("compare_products", CompareProductsArgs, Comparison, compare_products),
        Tool("get_facets", GetFacetsArgs, Facets, get_facets),
        Tool("view_cart", ViewCartArgs, Cart, view_cart),
        Tool("add_to_cart", AddToCartArgs, Cart, add_to_cart),
        Tool("remove_from_cart", RemoveFromCartArgs, Cart, remove_from_cart),
        Tool("answer_policy_question", PolicyQuestionArgs, PolicyAnswerResult, answer_policy_question),
    )
}


class ToolError(BaseModel):
    """A failed call, as the caller sees it: which tool, what went wrong, whether to retry."""

    tool: str
    error: str
    retryable: bool = False
    code: str | None = None  # the error's code where it has one ("bad_video", "no_product_in_video", ...)


def list_tools() -> list[str]:
    return sorted(TOOLS)


def get_tool(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        raise ConfigError(f"unknown tool {name!r}; tools: {list_tools()}") from None


def call_tool(ctx: ToolContext, name: str, arguments: dict[str, Any]) -> BaseModel:
    """Validate the arguments and run the tool; every failure becomes a `ToolError`."""
    if name not in TOOLS:
        return ToolError(tool=name, error=f"unknown tool; tools: {list_tools()}")
    tool = TOOLS[name]
    try:
        args = tool.args.model_validate(arguments)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors())
        return ToolError(tool=name, error=f"invalid arguments: {problems}")
    try:
        return tool.fn(ctx, args)
    except AssistantError as e:
        return ToolError(tool=name, error=e.message if e.user_visible else type(e).__name__, retryable=e.retryable, code=getattr(e, "code", None))
    except Exception:  # noqa: BLE001 - a bug in one tool is that call's failure, not the turn's or the server's
        log.exception("tool %s failed", name)
        return ToolError(tool=name, error="the tool failed unexpectedly", retryable=True)


def _strip_defaults(schema: Any) -> Any:
    # OpenAI's strict mode accepts no "default" keyword; every property is required instead,
    # and every object (an empty one too) says so and forbids extra properties.
    if isinstance(schema, dict):
        out = {k: _strip_defaults(v) for k, v in schema.items() if k not in ("default", "title")}
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strip_defaults(v) for v in schema]
    return schema


def openai_tools() -> list[dict[str, Any]]:
    """Every tool as an OpenAI function-tool schema, strict mode."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    out = []
    for t in TOOLS.values():
        spec = convert_to_openai_tool(t.args, strict=True)
        spec["function"]["name"] = t.name
        spec["function"]["description"] = t.description
        spec["function"]["parameters"] = _strip_defaults(spec["function"]["parameters"])
        out.append(spec)
    return out


def langchain_tools(ctx: ToolContext) -> list[Any]:
    """Every tool as a LangChain `StructuredTool` bound to `ctx`; results are JSON strings."""
    from langchain_core.tools import StructuredTool

    def bind(t: Tool) -> Callable[..., str]:
        def run(**kwargs: Any) -> str:
            return call_tool(ctx, t.name, kwargs).model_dump_json()

        return run

    return [StructuredTool.from_function(func=bind(t), name=t.name, description=t.description, args_schema=t.args) for t in TOOLS.values()]
