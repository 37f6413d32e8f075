"""What a tool call may use: the retriever over the shopper's catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.retrieval.search import Retriever


@dataclass
class ToolContext:
    retriever: Retriever
