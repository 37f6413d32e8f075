"""The one settings object, built once at the edge of the program and passed down.

Inner code never reads the environment; `Settings.from_env` is called by the CLI (and later
the server) only. Environment variables: SHOP_ASSISTANT_INDEX, SHOP_ASSISTANT_QDRANT_URL,
SHOP_ASSISTANT_QDRANT_API_KEY, SHOP_ASSISTANT_COLLECTION, SHOP_ASSISTANT_CLIP_MODEL,
SHOP_ASSISTANT_CLIP_PRETRAINED, SHOP_ASSISTANT_PHOTO_TOWER, SHOP_ASSISTANT_THREADS; for the language model
SHOP_ASSISTANT_LLM (embedded | openai | none), SHOP_ASSISTANT_LLM_URL, SHOP_ASSISTANT_LLM_API_KEY,
SHOP_ASSISTANT_LLM_MODEL, SHOP_ASSISTANT_LLM_GGUF, SHOP_ASSISTANT_LLM_THREADS,
SHOP_ASSISTANT_LLM_TIMEOUT.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field

from assistant.clip.model import KAGL_CLIP
from assistant.errors import ConfigError


def default_data_dir() -> Path:
    """The user's data folder for the project (e.g. ~/.local/share/shop-assistant)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("shop-assistant", appauthor=False))


class ClipSettings(BaseModel):
    model: str = KAGL_CLIP  # an open_clip model name, or 'local-dir:PATH'
    pretrained: str | None = None  # checkpoint file; None: the packaged catalogue CLIP
    # Shoppers' photos (not studio shots) and video frames read by the packaged photo tower
    # (`clip.photo_tower`), where the packaged CLIP runs; off: the CLIP reads every photo.
    photo_tower: bool = True


class ClusterLayout(BaseModel):
    """How a collection is spread over a Qdrant cluster when ingest creates it (a single server
    or the embedded engine ignore it). The reasons for the defaults: docs/scaling.md."""

    shard_number: int = Field(6, ge=1)  # two per node on 3 nodes: room to grow to 6 nodes by moving shards
    replication_factor: int = Field(2, ge=1)  # every shard on two nodes: one node may fail
    write_consistency_factor: int = Field(1, ge=1)  # a write is acknowledged by one replica; the other follows


class IndexSettings(BaseModel):
    path: Path = Field(default_factory=lambda: default_data_dir() / "index")  # embedded engine
    qdrant_url: str | None = None  # set: use a Qdrant server instead
    qdrant_api_key: str | None = None
    cluster: ClusterLayout = Field(default_factory=ClusterLayout)


LLMBackend = Literal["embedded", "openai", "none"]
LLM_BACKENDS: tuple[str, ...] = get_args(LLMBackend)
PolicyChoice = Literal["auto", "planner", "model", "guarded"]
POLICY_CHOICES: tuple[str, ...] = get_args(PolicyChoice)
TokenField = Literal["max_tokens", "max_completion_tokens"]
TOKEN_FIELDS: tuple[str, ...] = get_args(TokenField)


class LLMSettings(BaseModel):
    """Which model words the answers. The planner and tools decide what is true in every mode."""

    backend: LLMBackend = "embedded"
    gguf: Path | None = None  # embedded: a GGUF file; None: the packaged Qwen2.5 0.5B, assembled once
    threads: int = 2  # llama.cpp threads; with another busy process 1 can be much faster than 2
    url: str | None = None  # openai: the endpoint's base URL, e.g. http://localhost:8000/v1
    api_key: str | None = None
    model: str = "default"  # openai: the model name the endpoint serves
    timeout_s: float = 10.0  # openai: longer than this and the turn falls back to templates
    max_tokens: int = 48  # the model writes one opening sentence
    # Who chooses a turn's steps: "planner" (the rules), "model" (a tool-calling model at an
    # openai endpoint), "guarded" (the model, each call reviewed by the planner's reading of
    # the message); "auto" is "model" for the openai backend and "planner" otherwise.
    policy: PolicyChoice = "auto"
    tool_max_tokens: int = 256  # a tool-calling step: the calls' JSON and a short reply
    # The request field that carries those limits: "max_tokens" is what llama.cpp's servers,
    # vLLM and Ollama read; OpenAI's own newer models take only "max_completion_tokens" (and
    # refuse both at once). A server that ignores the field it is sent generates without a
    # limit: llama-cpp-python's server wrote 4,097 tokens (8 minutes on this CPU) of one looping
    # tool call when sent only "max_completion_tokens".
    token_field: TokenField = "max_tokens"
    # What a tool-calling model reads of the conversation: the recent turns and the summary of
    # the ones before them (`assistant.history`), together about this many tokens.
    history_tokens: int = Field(1_000, ge=100)


class Settings(BaseModel):
    index: IndexSettings = Field(default_factory=IndexSettings)
    clip: ClipSettings = Field(default_factory=ClipSettings)
    collection: str = "kagl"
    threads: int = 2  # torch intra-op threads for encoding
    # The server encodes concurrent turns' query texts in shared batches (`encoders.batching`);
    # off, each turn encodes on its own (kept to measure what batching is worth).
    batch_encoding: bool = True
    # Turns the server runs at once (threads; each waits on the encoders, the index and the
    # sessions database more than it computes).
    turn_workers: int = Field(8, ge=1)
    data_dir: Path = Field(default_factory=default_data_dir)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    # Where sessions (history, cart) live: None → SQLite in data_dir (one machine);
    # postgresql://... → PostgreSQL, shared by server replicas (`assistant.sessions.open_store`).
    sessions: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        s = cls()
        if v := env.get("SHOP_ASSISTANT_INDEX"):
            s.index.path = Path(v)
        if v := env.get("SHOP_ASSISTANT_QDRANT_URL"):
            s.index.qdrant_url = v
        if v := env.get("SHOP_ASSISTANT_QDRANT_API_KEY"):
            s.index.qdrant_api_key = v
        for name in ("shard_number", "replication_factor", "write_consistency_factor"):
            if v := env.get(f"SHOP_ASSISTANT_QDRANT_{name.upper()}"):
                if not v.isdigit() or int(v) < 1:
                    raise ConfigError(f"SHOP_ASSISTANT_QDRANT_{name.upper()} is {v!r}; give a whole number, at least 1")
                setattr(s.index.cluster, name, int(v))
        if v := env.get("SHOP_ASSISTANT_COLLECTION"):
            s.collection = v
        if v := env.get("SHOP_ASSISTANT_CLIP_MODEL"):
            s.clip.model = v
        if v := env.get("SHOP_ASSISTANT_CLIP_PRETRAINED"):
            s.clip.pretrained = v
        if v := env.get("SHOP_ASSISTANT_PHOTO_TOWER"):
            if v not in ("0", "1"):
                raise ConfigError(f"SHOP_ASSISTANT_PHOTO_TOWER is {v!r}; give 1 (on, the default) or 0 (off)")
            s.clip.photo_tower = v == "1"
        if v := env.get("SHOP_ASSISTANT_THREADS"):
            s.threads = int(v)
        if v := env.get("SHOP_ASSISTANT_BATCH_ENCODING"):
            if v not in ("0", "1"):
                raise ConfigError(f"SHOP_ASSISTANT_BATCH_ENCODING is {v!r}; give 1 (on, the default) or 0 (off)")
            s.batch_encoding = v == "1"
        if v := env.get("SHOP_ASSISTANT_TURN_WORKERS"):
            if not v.isdigit() or int(v) < 1:
                raise ConfigError(f"SHOP_ASSISTANT_TURN_WORKERS is {v!r}; give a whole number, at least 1")
            s.turn_workers = int(v)
        if v := env.get("SHOP_ASSISTANT_SESSIONS"):
            s.sessions = v
        if v := env.get("SHOP_ASSISTANT_LLM"):
            if v not in LLM_BACKENDS:
                raise ConfigError(f"SHOP_ASSISTANT_LLM is {v!r}; choose one of {', '.join(LLM_BACKENDS)}")
            s.llm.backend = v  # type: ignore[assignment]
        if v := env.get("SHOP_ASSISTANT_LLM_URL"):
            s.llm.url = v
        if v := env.get("SHOP_ASSISTANT_LLM_API_KEY"):
            s.llm.api_key = v
        if v := env.get("SHOP_ASSISTANT_LLM_MODEL"):
            s.llm.model = v
        if v := env.get("SHOP_ASSISTANT_LLM_GGUF"):
            s.llm.gguf = Path(v)
        if v := env.get("SHOP_ASSISTANT_LLM_THREADS"):
            s.llm.threads = int(v)
        if v := env.get("SHOP_ASSISTANT_LLM_TIMEOUT"):
            s.llm.timeout_s = float(v)
        if v := env.get("SHOP_ASSISTANT_LLM_POLICY"):
            if v not in POLICY_CHOICES:
                raise ConfigError(f"SHOP_ASSISTANT_LLM_POLICY is {v!r}; choose one of {', '.join(POLICY_CHOICES)}")
            s.llm.policy = v  # type: ignore[assignment]
        if v := env.get("SHOP_ASSISTANT_LLM_TOKEN_FIELD"):
            if v not in TOKEN_FIELDS:
                raise ConfigError(f"SHOP_ASSISTANT_LLM_TOKEN_FIELD is {v!r}; choose one of {', '.join(TOKEN_FIELDS)}")
            s.llm.token_field = v  # type: ignore[assignment]
        if v := env.get("SHOP_ASSISTANT_LLM_HISTORY_TOKENS"):
            if not v.isdigit() or int(v) < 100:
                raise ConfigError(f"SHOP_ASSISTANT_LLM_HISTORY_TOKENS is {v!r}; give a whole number of tokens, at least 100")
            s.llm.history_tokens = int(v)
        return s
