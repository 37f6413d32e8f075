"""Settings → the configured chat model behind one interface (a LangChain chat model)."""

from __future__ import annotations

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.llm.wording import LeadWriter


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
            max_completion_tokens=llm.max_tokens,
            temperature=0.0,
            streaming=True,
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
