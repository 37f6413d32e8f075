"""The embedded chat model: a GGUF run in-process by llama.cpp, as a LangChain chat model.

Being a LangChain `BaseChatModel` gives it the same interface as the endpoint backend
(`ChatOpenAI`): the agent streams either one the same way. One llama.cpp context serves all
sessions, so turns take a lock; llama.cpp keeps the previous prompt's tokens, so the fixed
system prompt and examples at the head of every request are evaluated once, not per turn.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.errors import ModelError

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaCppChat(BaseChatModel):
    """A GGUF chat model run by llama-cpp-python (chat template taken from the GGUF)."""

    model_path: Path
    n_threads: int = 2
    n_ctx: int = 2048
    max_tokens: int = 48
    temperature: float = 0.0  # the same facts give the same words: answers are testable

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def load(self) -> LlamaCppChat:
        """Load the weights now (they are loaded on first use otherwise)."""
        if self._llama is None:
            try:
                import llama_cpp
            except ImportError as e:
                raise ModelError("the embedded language model needs llama-cpp-python; install the project's dependencies") from e
            if not self.model_path.is_file():
                raise ModelError(f"no GGUF model at {self.model_path}")
            try:
                self._llama = llama_cpp.Llama(str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
            except ValueError as e:  # llama-cpp-python's error for a file it cannot load
                raise ModelError(f"cannot load the GGUF model {self.model_path}: {e}") from e
        return self

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = self.load()._llama
        chat = [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with self._lock:
            stream = llama.create_chat_completion(
                messages=chat,
                stream=True,
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=self.temperature,
                stop=stop,
            )
            for part in stream:
                delta = part["choices"][0]["delta"].get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
