"""What a tool call may use: the retriever, the shopper's session, the store's policies, and
photos and clips attached to the turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from pydantic import BaseModel

from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.sessions import SessionState
from assistant.video.decode import DecodedClip


@dataclass
class ToolContext:
    retriever: Retriever
    session: SessionState | None = None
    policies: PolicyIndex | None = None
    attachments: dict[str, Image.Image] = field(default_factory=dict)  # "attachment:NAME" in tool arguments
    videos: dict[str, bytes | DecodedClip] = field(default_factory=dict)  # clips attached to the turn (files, or decoded)
    calls: list[tuple[str, dict[str, Any], BaseModel]] = field(default_factory=list)  # this turn's calls: (tool, arguments, result)
