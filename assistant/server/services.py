"""What the server holds for its lifetime: models, index, agent. Built once, in the lifespan."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from assistant.agent import Agent
from assistant.config import Settings
from assistant.encoders.base import ImageTextEncoder, TextEncoder
from assistant.encoders.batching import BatchingImageTextEncoder, BatchingTextEncoder
from assistant.policies import PolicyIndex
from assistant.retrieval.search import Retriever
from assistant.sessions import SessionStore, open_store
from assistant.voice.audio import AudioLimits
from assistant.voice.speech import Speaker
from assistant.voice.transcriber import Transcriber

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    retriever: Retriever
    agent: Agent
    policies: PolicyIndex
    store: SessionStore
    transcriber: Transcriber | None = None  # None: voice input is refused (`voice_unavailable`)
    speaker: Speaker | None = None  # None: voice turns are answered in text only
    audio_limits: AudioLimits = field(default_factory=AudioLimits)
    batchers: list[BatchingTextEncoder] = field(default_factory=list)  # closed after the last turn
    # CPU-bound work (encoders, the LLM, the index) runs here, never on the event loop.
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="turn"))  # as Settings.turn_workers

    def ready(self) -> tuple[bool, str]:
        """Models loaded and the index answering."""
        try:
            n = self.retriever.index.count(self.retriever.collection_name)
        except Exception as e:  # noqa: BLE001 - readiness reports any failure instead of raising it
            return False, f"index not reachable: {type(e).__name__}"
        return True, f"{n} products"

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)  # in-flight turns finish and save
        for batcher in self.batchers:
            batcher.close()
        self.store.close()


def load_services(settings: Settings, policies_dir: Path | None = None) -> Services:
    from assistant.language.zh import chinese_bridge
    from assistant.llm.backends import load_lead_writer, load_tool_model
    from assistant.policies import EXAMPLE_POLICIES, load_passages
    from assistant.runtime import load_attention, load_colour_reader, load_encoders, open_index
    from assistant.voice.hearing import CatalogueHearing
    from assistant.voice.transcriber import load_transcriber

    enc = load_encoders(settings)
    batchers: list[BatchingTextEncoder] = []
    if settings.batch_encoding:
        import torch

        # Concurrent turns' query texts share forward passes (see encoders.batching); the CLIP
        # and text batchers encode side by side, so they split the encoding cores between them.
        torch.set_num_threads(max(1, settings.threads // 2))
        batchers = [BatchingImageTextEncoder(enc.clip, "clip"), BatchingTextEncoder(enc.text, "text")]
    clip: ImageTextEncoder = batchers[0] if batchers else enc.clip
    text: TextEncoder = batchers[1] if batchers else enc.text
    retriever = Retriever(
        open_index(settings),
        settings.collection,
        clip,
        text,
        enc.sparse,
        attention=load_attention(settings, enc),
        colour_reader=load_colour_reader(settings),
    )
    retriever.require_collection()
    policies = PolicyIndex(load_passages(policies_dir or EXAMPLE_POLICIES), text)
    store = open_store(settings.sessions, settings.data_dir)
    tool_model, policy = load_tool_model(settings)
    agent = Agent(
        retriever,
        store,
        policies,
        writer=load_lead_writer(settings),
        tool_model=tool_model,
        policy=policy,
        history_tokens=settings.llm.history_tokens,
    )
    # Built now so that the first shopper, in either language, does not wait for them: the
    # intent exemplars' vectors and jieba's dictionary with the lexicon (about a second each).
    if (intents := agent.intents) is not None:
        intents.for_language("en")
        intents.for_language("zh")
    chinese_bridge()
    transcriber = load_transcriber(settings.data_dir / "models", hearing=CatalogueHearing(retriever.vocabulary))
    return Services(
        settings,
        retriever,
        agent,
        policies,
        store,
        transcriber=transcriber,
        speaker=_speaker(),
        pool=ThreadPoolExecutor(max_workers=settings.turn_workers, thread_name_prefix="turn"),
        batchers=batchers,
    )


def _speaker() -> Speaker | None:
    from assistant.errors import ModelError

    try:
        return Speaker()
    except ModelError as e:
        log.warning("answers will not be spoken: %s", e.message)
        return None
