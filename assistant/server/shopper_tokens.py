"""Shopper tokens: a short-lived, signed name for one shopper of a key, so rate limits can
tell shoppers apart where an address cannot (many shoppers behind one NAT or office proxy).

    POST /v1/shopper-token   (with the API key, like any request) → {"token", "expires_in_s"}
                             (the route is in `session_access`, beside the sessions')

The widget fetches one when it starts and sends it as `X-Shopper-Token` (HTTP) or
`?shopper_token=` (its socket). A request with a valid token counts against that shopper's
own bucket, and against its address's shared bucket, `address_share` times the per-client
limit: a NAT's shoppers each get a full bucket, but tokens minted by one abuser buy them at
most that shared bucket, never more. A request without a token counts against its address,
as before. A token is bound to the key it was minted with; a forged, expired, or another
key's token is refused (`shopper_token_invalid`, 401, or an error event and close 4401 on a
socket): fetch a new one.

Format: base64url(JSON {"s": 96 random bits, "k": key fingerprint, "e": expiry}) "."
base64url(HMAC-SHA256 of the first part). The secret is `SHOP_ASSISTANT_TOKEN_SECRET` (set
the same on every replica), else made at start (tokens then end with a restart; the widget
fetches a new one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

TOKEN_TTL_S = 3600.0


@dataclass(frozen=True)
class Shopper:
    id: str
    key: str | None  # the key fingerprint it was minted under; None on a server without keys


class ShopperTokenInvalid(Exception):
    """A token that is forged, expired, or another key's."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ShopperTokens:
    """Mint and read tokens under one secret."""

    def __init__(self, secret: bytes | None = None, ttl_s: float = TOKEN_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self.clock = clock

    def mint(self, key: str | None) -> str:
        body = _b64(json.dumps({"s": secrets.token_hex(12), "k": key, "e": int(self.clock() + self.ttl_s)}, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def read(self, token: str, key: str | None) -> Shopper:
        """The shopper a token names; raises `ShopperTokenInvalid`."""
        body, _, sig = token.partition(".")
        if not body or not sig or not hmac.compare_digest(sig, self._sign(body)):
            raise ShopperTokenInvalid("the shopper token is not one this server made")
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            raise ShopperTokenInvalid("the shopper token is garbled") from None
        if claims.get("k") != key:
            raise ShopperTokenInvalid("the shopper token belongs to another API key")
        if float(claims.get("e", 0)) < self.clock():
            raise ShopperTokenInvalid("the shopper token has expired; fetch a new one (POST /v1/shopper-token)")
        return Shopper(str(claims["s"]), key)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest()[:16])


class NewShopperToken(BaseModel):
    token: str
    expires_in_s: float
