"""What a tool call may use: the retriever, the shopper's session, the store's policies, and
photos attached to the turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from pydantic import BaseModel

from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.sessions import SessionState


@dataclass
class ToolContext:
    retriever: Retriever
    session: SessionState | None = None
    policies: PolicyIndex | None = None
    attachments: dict[str, Image.Image] = field(default_factory=dict)  # "attachment:NAME" in tool arguments
    calls: list[tuple[str, dict[str, Any], BaseModel]] = field(default_factory=list)  # this turn's calls: (tool, arguments, result)
