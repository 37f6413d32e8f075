"""How the server is exposed: where it listens, who may use it, how much, from where.

Owns the operational settings of `shop-assistant serve` (bind address, API keys, rate
limits, CORS origins, size limits, shutdown grace). Does not own what the server serves
(`assistant.config.Settings`: index, models, language model). Built once at the edge, by
the CLI (`ServerSettings.from_env` plus command-line options) or by a test; the app only
reads it. Environment variables: SHOP_ASSISTANT_HOST, SHOP_ASSISTANT_PORT,
SHOP_ASSISTANT_API_KEYS (comma-separated), SHOP_ASSISTANT_API_KEY_FILE (one key a line,
`#` comments), SHOP_ASSISTANT_CORS_ORIGINS (comma-separated), SHOP_ASSISTANT_RATE_LIMIT
(requests a minute per client; 0: no limit), SHOP_ASSISTANT_RATE_BURST,
SHOP_ASSISTANT_SESSION_IDLE_S (seconds idle before a session expires),
SHOP_ASSISTANT_TRUSTED_PROXIES (comma-separated addresses or networks whose X-Forwarded-For
is believed), SHOP_ASSISTANT_KEY_QUOTA (requests a minute per API key, all its clients
together; 0: none), SHOP_ASSISTANT_TOKEN_SECRET (signs shopper tokens; set it alike on
every replica).

The exposure rule: a server bound to anything but a loopback address must have API keys,
unless the operator says `insecure_no_auth` out loud; on loopback keys are optional.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

from assistant.errors import ConfigError

MIB = 1024 * 1024
MIN_KEY_CHARS = 16  # a shorter key is guessable; `python -c "import secrets; print(secrets.token_urlsafe(32))"` makes one


class RateLimit(BaseModel):
    """A token bucket per client (API key, or address when keys are off).

    One token per HTTP request on a protected route, per WebSocket connection and per
    WebSocket turn (`message` event). Tokens refill at `per_minute`; at most `burst` are saved.
    """

    per_minute: float = Field(600.0, ge=0)  # 0: no limit
    burst: int = Field(60, ge=1)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_keys: frozenset[str] = Field(frozenset(), repr=False)  # empty: no keys (loopback only, or insecure_no_auth)
    insecure_no_auth: bool = False  # serve a non-loopback address without keys (an explicit opt-out)
    rate_limit: RateLimit = Field(default_factory=RateLimit)  # per client: a key's shopper (address), or an address
    key_quota: RateLimit = Field(default_factory=lambda: RateLimit(per_minute=0, burst=600))  # per key, on top; 0: none
    trusted_proxies: list[str] = []  # reverse proxies (addresses or networks) whose X-Forwarded-For names the client
    address_share: int = Field(10, ge=1)  # shoppers with tokens behind one address get together this many clients' limit
    shopper_token_ttl_s: float = Field(3600.0, gt=0)
    token_secret: SecretStr | None = None  # signs shopper tokens; the same on every replica (else made at start)
    cors_origins: list[str] = []  # browser origins allowed to call the HTTP API, e.g. https://shop.example; "*" for any
    max_body_bytes: int = Field(32 * MIB, ge=1)  # HTTP request bodies (SSE turns, tool calls, MCP); over it: 413
    max_frame_bytes: int = Field(52 * MIB, ge=1)  # WebSocket frames (a clip of up to 50 MB as one); over it: a `frame_too_large` error event
    session_idle_s: float = Field(7 * 86400.0, gt=0)  # a session unused this long expires (`session_access`)
    shutdown_grace_s: float = Field(20.0, ge=0)  # turns in flight may finish for this long, then end with an error
    # A postgresql:// URL: rate-limit buckets and the one-socket-per-session rule shared by every
    # replica using it (`shared_state`); `serve` sets it to the sessions database. None: in process.
    shared_state: str | None = Field(None, repr=False)

    @field_validator("api_keys")
    @classmethod
    def _keys_are_keys(cls, keys: frozenset[str]) -> frozenset[str]:
        for key in keys:
            if len(key) < MIN_KEY_CHARS or any(c.isspace() for c in key):
                raise ValueError(f"an API key must be at least {MIN_KEY_CHARS} characters without spaces")
        return keys

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, proxies: list[str]) -> list[str]:
        for p in proxies:
            try:
                ipaddress.ip_network(p.strip(), strict=False)
            except ValueError:
                raise ValueError(f"a trusted proxy must be an address or network (10.0.0.5, 10.0.0.0/8), not {p!r}") from None
        return [p.strip() for p in proxies]

    @property
    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]

    @property
    def ws_transport_max_bytes(self) -> int:
        """The hard frame cap given to uvicorn: frames between `max_frame_bytes` and this get an
        error event; larger ones end the connection (close code 1009)."""
        return 2 * self.max_frame_bytes

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check_exposure(self) -> None:
        """Refuse to serve a non-loopback address without API keys (unless `insecure_no_auth`)."""
        if self.api_keys or self.loopback or self.insecure_no_auth:
            return
        raise ConfigError(
            f"refusing to serve on {self.host} without API keys: anyone who can reach the port could use the assistant. "
            "Set SHOP_ASSISTANT_API_KEYS or --api-key-file, bind to 127.0.0.1, or pass --insecure-no-auth"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, key_file: Path | None = None) -> ServerSettings:
        """Settings from the environment, plus the keys in `key_file` (or SHOP_ASSISTANT_API_KEY_FILE)."""
        env = os.environ if env is None else env
        fields: dict[str, object] = {}
        if v := env.get("SHOP_ASSISTANT_HOST"):
            fields["host"] = v
        if v := env.get("SHOP_ASSISTANT_PORT"):
            fields["port"] = _number(int, "SHOP_ASSISTANT_PORT", v)
        keys = {k.strip() for k in env.get("SHOP_ASSISTANT_API_KEYS", "").split(",") if k.strip()}
        file = key_file or (Path(v) if (v := env.get("SHOP_ASSISTANT_API_KEY_FILE")) else None)
        if file is not None:
            keys |= read_key_file(file)
        fields["api_keys"] = frozenset(keys)
        if v := env.get("SHOP_ASSISTANT_CORS_ORIGINS"):
            fields["cors_origins"] = [o.strip() for o in v.split(",") if o.strip()]
        if v := env.get("SHOP_ASSISTANT_SESSION_IDLE_S"):
            fields["session_idle_s"] = _number(float, "SHOP_ASSISTANT_SESSION_IDLE_S", v)
        limit: dict[str, float] = {}
        if v := env.get("SHOP_ASSISTANT_RATE_LIMIT"):
            limit["per_minute"] = _number(float, "SHOP_ASSISTANT_RATE_LIMIT", v)
        if v := env.get("SHOP_ASSISTANT_RATE_BURST"):
            limit["burst"] = _number(int, "SHOP_ASSISTANT_RATE_BURST", v)
        fields["rate_limit"] = limit
        if v := env.get("SHOP_ASSISTANT_KEY_QUOTA"):
            fields["key_quota"] = {"per_minute": _number(float, "SHOP_ASSISTANT_KEY_QUOTA", v), "burst": 600}
        if v := env.get("SHOP_ASSISTANT_TOKEN_SECRET"):
            fields["token_secret"] = v
        if v := env.get("SHOP_ASSISTANT_TRUSTED_PROXIES"):
            fields["trusted_proxies"] = [p.strip() for p in v.split(",") if p.strip()]
        return cls._validated(fields)

    def updated(self, changes: Mapping[str, object]) -> ServerSettings:
        """A copy with `changes` (e.g. command-line options) applied and validated."""
        return self._validated({**self.model_dump(), **changes})

    @classmethod
    def _validated(cls, fields: Mapping[str, object]) -> ServerSettings:
        try:
            return cls.model_validate(fields)
        except ValueError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in getattr(e, "errors", list)()) or str(e)
            raise ConfigError(f"server settings: {problems}") from e


def read_key_file(path: Path) -> set[str]:
    """API keys from a file: one a line; blank lines and `#` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read the API key file {path}: {e.strerror}") from e
    keys = {line.split("#", 1)[0].strip() for line in lines}
    keys.discard("")
    if not keys:
        raise ConfigError(f"the API key file {path} holds no keys")
    return keys


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1); False for 0.0.0.0, :: and names."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _number(kind: type[int] | type[float], name: str, value: str) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{name} is {value!r}; expected a number") from None
