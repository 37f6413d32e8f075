"""The model's part of an answer: one opening sentence, checked before it is said.

The planner and the tools decide what is true; the templated answer states it. A language
model, when configured, adds the opening sentence a shop assistant would say ("Here are
some black running shoes for men."). The sentence is read whole from the model's stream,
checked by the grounding guard, and released only if every number and catalogue term in it
is in the turn's facts; otherwise nothing is said and the templated answer stands alone.
Any failure of the model (endpoint down, timeout, busy) raises `LLMUnavailable`, which the
agent turns into a notice event and a templated answer.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from assistant.errors import LLMUnavailable
from assistant.language.text import HAN, Language
from assistant.llm.guard import Guard

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
log = logging.getLogger(__name__)
SENTENCE_END = re.compile(r"[.!?](\s|$)|[。！？]")
SPEAKER = re.compile(r"^\s*(reply|you|assistant|shop assistant)\s*:\s*", re.I)
MIN_WORDS = 4  # "Hello!" alone is not an opening; read on to the next sentence end
MIN_HAN = 5  # the same for a Chinese sentence, in characters ("您好！" alone is not one)
# A Chinese turn's note ends with this, so the model answers in the shopper's language.
IN_CHINESE = " (reply in Simplified Chinese)"
MAX_CHARS = 200
MAX_MESSAGE_CHARS = 300  # of the shopper's message in the prompt: a long paste adds latency, not meaning


@dataclass(frozen=True)
class LeadPrompt:
    """The system prompt and few-shot examples, from `prompts/`."""

    system: str
    examples: tuple[tuple[str, str, str], ...]  # (shopper, note, reply)

    @classmethod
    def load(cls, folder: Path = PROMPTS) -> LeadPrompt:
        system = (folder / "system.txt").read_text(encoding="utf-8").strip()
        examples = []
        for block in (folder / "lead_examples.txt").read_text(encoding="utf-8").split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.strip().splitlines() if not line.startswith("#") and ":" in line)
            if {"Shopper", "Note", "Reply"} <= fields.keys():
                examples.append((fields["Shopper"].strip(), fields["Note"].strip(), fields["Reply"].strip()))
        return cls(system, tuple(examples))

    def messages(self, message: str, note: str) -> list[BaseMessage]:
        out: list[BaseMessage] = [SystemMessage(self.system)]
        for shopper, ex_note, reply in self.examples:
            out += [HumanMessage(_user(shopper, ex_note)), AIMessage(reply)]
        out.append(HumanMessage(_user(message[:MAX_MESSAGE_CHARS], note)))
        return out


def _user(message: str, note: str) -> str:
    return f"Shopper: {' '.join(message.split())}\nNOTE: {note}"


def _long_enough(sentence: str) -> bool:
    han = len(HAN.findall(sentence))
    return han >= MIN_HAN if han else len(sentence.split()) >= MIN_WORDS


@dataclass(frozen=True)
class Lead:
    """What the model proposed, and whether it may be said."""

    sentence: str
    refused: str | None  # the guard's reason, or None when the sentence is grounded
    seconds: float


class LeadWriter:
    """Asks a LangChain chat model for the opening sentence of an answer."""

    def __init__(
        self,
        model: BaseChatModel,
        name: str,
        prompt: LeadPrompt | None = None,
        timeout_s: float = 10.0,
        in_process: bool = False,
        languages: tuple[Language, ...] = ("en", "zh"),
    ) -> None:
        self.model = model
        self.name = name  # "embedded" or "openai": said in notices and benchmarks
        self.prompt = prompt or LeadPrompt.load()
        self.timeout_s = timeout_s
        # Shares this machine's CPU with the turns themselves: the agent leaves it out while
        # other turns run (`Agent._busy`); an endpoint queues its own work.
        self.in_process = in_process
        # The answer languages it is asked to write in; other turns stay templated.
        self.languages = languages

    def warm(self) -> None:
        """Evaluate the fixed head of the prompt once, so the first shopper does not wait for it.

        Not held to the turn timeout: on a busy machine the first evaluation of the whole head
        can take longer than a turn may, and a slow start must not stop the server starting.
        A model that fails here is logged; its turns then fall back to templates as usual."""
        try:
            self._write("hello", "greeting", None, limit=None)
        except LLMUnavailable as e:
            log.warning("warming the %s model failed: %s", self.name, e.message)

    def write(self, message: str, note: str, guard: Guard | None, language: Language = "en") -> Lead:
        """The model's checked opening sentence in `language`, within the writer's timeout;
        LLMUnavailable when the model fails."""
        return self._write(message, note + (IN_CHINESE if language == "zh" else ""), guard, self.timeout_s, language)

    def _write(self, message: str, note: str, guard: Guard | None, limit: float | None, language: Language = "en") -> Lead:
        start = time.perf_counter()
        text = ""
        try:
            for chunk in self.model.stream(self.prompt.messages(message, note), stop=["\n"]):
                text += str(chunk.content)
                end = SENTENCE_END.search(text)
                while end and not _long_enough(text[: end.end()]):
                    end = SENTENCE_END.search(text, end.end())
                if end or len(text) > MAX_CHARS:
                    text = text[: end.end()] if end else text
                    break
                if limit is not None and time.perf_counter() - start > limit:
                    raise LLMUnavailable(f"the {self.name} model took over {limit:g} s")
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - any model failure must degrade to templates, never fail the turn
            raise LLMUnavailable(f"the {self.name} model failed: {type(e).__name__}: {str(e)[:200]}") from e
        sentence = SPEAKER.sub("", text.strip()).strip().strip('"').strip()
        if not sentence:
            refused: str | None = "empty"
        elif not SENTENCE_END.search(sentence + " "):
            refused = "not a complete sentence"
        elif bool(HAN.search(sentence)) != (language == "zh"):
            refused = "not in the shopper's language"
        else:
            refused = guard.violation(sentence) if guard is not None else None
        return Lead(sentence, refused, time.perf_counter() - start)
