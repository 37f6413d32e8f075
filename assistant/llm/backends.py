"""Settings → the configured chat model behind one interface (a LangChain chat model)."""

from __future__ import annotations

from typing import Any

from assistant.config import LLMSettings, Settings
from assistant.errors import ConfigError
from assistant.llm.wording import LeadWriter
from assistant.tool_loop import MODEL_TOOLS, Policy, resolve_policy


def token_limit(llm: LLMSettings, tokens: int) -> dict[str, Any]:
    """ChatOpenAI's arguments that send the limit of `tokens` in the endpoint's field
    (`LLMSettings.token_field`): the client itself sends only "max_completion_tokens"."""
    if llm.token_field == "max_completion_tokens":
        return {"max_completion_tokens": tokens}
    return {"extra_body": {"max_tokens": tokens}}


def load_lead_writer(settings: Settings, warm: bool = True) -> LeadWriter | None:
    """The writer for `settings.llm.backend`; None for "none" (templated answers only)."""
    llm = settings.llm
    if llm.backend == "none":
        return None
    if llm.backend == "openai":
        if not llm.url:
            raise ConfigError("the openai backend needs an endpoint URL (--llm-url or SHOP_ASSISTANT_LLM_URL)")
        from langchain_openai import ChatOpenAI

        # No retries: a slow or dead endpoint must fall back to templates within the timeout.
        model = ChatOpenAI(
            base_url=llm.url,
            api_key=llm.api_key or "unused",  # local servers accept any key; the client requires one
            model=llm.model,
            timeout=llm.timeout_s,
            max_retries=0,
            temperature=0.0,
            streaming=True,
            **token_limit(llm, llm.max_tokens),
        )
        return LeadWriter(model, "openai", timeout_s=llm.timeout_s)
    from assistant.llm.embedded import LlamaCppChat
    from assistant.llm.gguf import packaged_gguf

    path = llm.gguf or packaged_gguf(settings.data_dir / "models")
    # English only: asked for Chinese, the packaged 0.5B model wrote English in 69 of 69 turns of
    # the Chinese conversation set (all refused by the language check), at about a second each.
    model = LlamaCppChat(model_path=path, n_threads=llm.threads, max_tokens=llm.max_tokens).load()
    writer = LeadWriter(model, "embedded", in_process=True, languages=("en",))
    if warm:
        writer.warm()
    return writer


def load_tool_model(settings: Settings) -> tuple[Any, Policy]:
    """The tool-calling model and the policy it runs under: (None, "planner") unless the
    backend is an openai endpoint and the policy is auto, model or guarded. The model is the
    endpoint's chat model with the registry's tools bound by their OpenAI strict schemas."""
    llm = settings.llm
    if llm.policy not in ("auto", "planner") and llm.backend != "openai":
        raise ConfigError(f"the {llm.policy} policy needs a tool-calling model at an openai endpoint (--llm openai --llm-url URL)")
    policy = resolve_policy(llm.policy, llm.backend, tools_supported=llm.backend == "openai")
    if policy == "planner":
        return None, policy
    if not llm.url:
        raise ConfigError("the openai backend needs an endpoint URL (--llm-url or SHOP_ASSISTANT_LLM_URL)")
    from langchain_openai import ChatOpenAI

    from tools.registry import openai_tools

    model = ChatOpenAI(
        base_url=llm.url,
        api_key=llm.api_key or "unused",
        model=llm.model,
        timeout=llm.timeout_s,
        max_retries=0,  # a failing endpoint falls back to the planner at once
        temperature=0.0,
        **token_limit(llm, llm.tool_max_tokens),
    )
    tools = [t for t in openai_tools() if t["function"]["name"] in MODEL_TOOLS]
    return model.bind_tools(tools, strict=True), policy
