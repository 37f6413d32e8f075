"""The generic product schema every catalogue is mapped onto.

Owns the `Product` model and the two texts derived from it (the CLIP caption and the full
product text). Does not own reading files (see `loader`) or encoding (see `assistant.encoders`).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pydantic import BaseModel, Field

# Namespace for stable point ids: uuid5(namespace, "<collection>/<product id>") is the same
# on every machine and every run, so re-ingesting a product overwrites its point.
_POINT_NAMESPACE = uuid.UUID("6f1f9a52-3c1e-4d7a-9a4e-0b8f2f6f1c11")


class Product(BaseModel):
    """One product of a catalogue, in the generic schema."""

    id: str
    name: str
    description: str | None = None
    brand: str | None = None
    category_path: list[str] = Field(default_factory=list)  # broad → narrow
    colour: str | None = None
    gender: str | None = None
    price: float | None = None
    currency: str | None = None
    in_stock: bool | None = None
    image: Path | None = None  # local file; catalogues with URLs are out of scope
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @property
    def category(self) -> str | None:
        """The narrowest category (KAGL: the article type)."""
        return self.category_path[-1] if self.category_path else None

    def clip_caption(self) -> str:
        """Title + key attributes: the text the CLIP text tower was trained on."""
        parts = [self.name]
        attrs = [a for a in (self.category, self.colour, self.gender, self.attributes.get("usage")) if a]
        if attrs:
            parts.append(", ".join(str(a) for a in attrs))
        return ". ".join(parts)

    def full_text(self) -> str:
        """Everything a shopper might search for, for the sentence encoder and BM25."""
        parts = [self.name]
        if self.brand and self.brand.lower() not in self.name.lower():
            parts.append(self.brand)
        parts.extend(self.category_path)
        parts.extend(str(v) for v in (self.colour, self.gender) if v)
        parts.extend(str(v) for k, v in self.attributes.items() if k in ("usage", "season"))
        if self.description:
            parts.append(self.description)
        return ". ".join(dict.fromkeys(p for p in parts if p))


def point_id(collection: str, product_id: str) -> str:
    """Stable Qdrant point id (a UUID string) for a product of a collection."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{collection}/{product_id}"))
