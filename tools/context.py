"""What a tool call may use: the retriever, the shopper's session, the store's policies."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.sessions import SessionState


@dataclass
class ToolContext:
    retriever: Retriever
    session: SessionState | None = None
    policies: PolicyIndex | None = None
