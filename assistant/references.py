"""Pointing at shown products by position, shared by the planner's languages.

"The second one" / 第二个 become picks (where in the message, which index); this module
turns picks into product ids, or into a problem to tell the shopper when one is out of
reach, and steps from the product in focus ("the one after that", 下一个). Does not read
any language's words (`planner`, `planner_zh` do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.language.text import Language
from assistant.messages import say

if TYPE_CHECKING:
    from assistant.planner import ShownProduct


def picked(picks: list[tuple[int, int]], shown: Sequence[ShownProduct], language: Language) -> tuple[list[str], str | None]:
    """(position in the message, index into shown) picks → the ids in the message's order, or
    a problem naming how many were shown when one is out of reach. Shared by both languages."""
    indices = [i for _, i in sorted(picks)]
    bad = [i for i in indices if not 0 <= i < len(shown)]
    if bad:
        return [], say(language, "no_such_number", count=len(shown), number=max(bad) + 1)
    return list(dict.fromkeys(shown[i].id for i in indices)), None


def step_from(shown: Sequence[ShownProduct], focus: str | None, direction: str) -> int:
    """The index one after (or before) the product in focus; from the first without one.
    Out of reach is -1 or len(shown), which `picked` turns into a problem."""
    base = next((i for i, p in enumerate(shown) if p.id == focus), 0)
    return base + (1 if direction.lower() in ("after", "next") else -1)
