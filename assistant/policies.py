"""Store policy and FAQ answers, only from the store's own documents.

Owns loading policy documents (Markdown, one passage per `##` section), embedding them
with the sentence encoder, and finding the passage that answers a question. Below a
similarity threshold there is no answer: the assistant says it does not know rather than
invent a policy. Every answer names the document and section it comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.encoders.base import TextEncoder
from assistant.errors import ConfigError

EXAMPLE_POLICIES = Path(__file__).parent / "policy_docs"
MIN_SIMILARITY = 0.35  # cosine; below it no passage answers the question


@dataclass(frozen=True)
class Passage:
    source: str  # file name
    section: str
    text: str


@dataclass(frozen=True)
class PolicyAnswer:
    passage: Passage
    similarity: float


def load_passages(folder: Path) -> list[Passage]:
    if not folder.is_dir():
        raise ConfigError(f"policy folder not found: {folder}")
    out = []
    for f in sorted(folder.glob("*.md")):
        text = re.sub(r"<!--.*?-->", "", f.read_text(encoding="utf-8"), flags=re.S)
        for block in re.split(r"^## ", text, flags=re.M)[1:]:
            title, _, body = block.partition("\n")
            body = " ".join(body.split())
            if body:
                out.append(Passage(f.name, title.strip(), body))
    if not out:
        raise ConfigError(f"no policy sections (## headings) in the .md files of {folder}")
    return out


class PolicyIndex:
    """Policy passages embedded once; `answer` finds the best one or none."""

    def __init__(self, passages: list[Passage], encoder: TextEncoder) -> None:
        self.passages = passages
        self.encoder = encoder
        self._emb = encoder.encode_text([f"{p.section}. {p.text}" for p in passages])

    def answer(self, question: str) -> PolicyAnswer | None:
        q = self.encoder.encode_text([question])[0]
        sims = self._emb @ q
        best = int(np.argmax(sims))
        if float(sims[best]) < MIN_SIMILARITY:
            return None
        return PolicyAnswer(self.passages[best], float(sims[best]))
