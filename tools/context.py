"""What a tool call may use: the retriever, the shopper's session, the store's policies, and
photos attached to the turn."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.sessions import SessionState


@dataclass
class ToolContext:
    retriever: Retriever
    session: SessionState | None = None
    policies: PolicyIndex | None = None
    attachments: dict[str, Image.Image] = field(default_factory=dict)  # "attachment:NAME" in tool arguments
