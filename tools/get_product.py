"""`get_product` and `compare_products`: catalogue facts for products by id."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.catalogue.schema import Product
from assistant.errors import QueryError
from tools.context import ToolContext
from tools.types import ProductCard, card_fields


class GetProductArgs(BaseModel):
    product_id: str = Field(description="The product's id")


class CompareProductsArgs(BaseModel):
    product_ids: list[str] = Field(min_length=2, max_length=5, description="Two to five product ids")


class Comparison(BaseModel):
    products: list[ProductCard]
    same: dict[str, str]  # attribute → the value all share
    different: dict[str, list[str | None]]  # attribute → each product's value, in order


def _card(p: Product) -> ProductCard:
    return ProductCard(**card_fields(p))  # type: ignore[arg-type]


def get_product(ctx: ToolContext, args: GetProductArgs) -> ProductCard:
    found = ctx.retriever.products([args.product_id])
    if args.product_id not in found:
        raise QueryError(f"no product with id {args.product_id!r}")
    return _card(found[args.product_id])


def compare_products(ctx: ToolContext, args: CompareProductsArgs) -> Comparison:
    found = ctx.retriever.products(args.product_ids)
    missing = [i for i in args.product_ids if i not in found]
    if missing:
        raise QueryError(f"no products with ids {missing}")
    cards = [_card(found[i]) for i in args.product_ids]
    same: dict[str, str] = {}
    different: dict[str, list[str | None]] = {}
    keys = ["brand", "category", "colour", "gender", "price"] + sorted({k for c in cards for k in c.attributes})
    for k in keys:
        vals = [getattr(c, k) if k in ProductCard.model_fields else c.attributes.get(k) for c in cards]
        text = [None if v is None else str(v) for v in vals]
        if all(v is None for v in text):
            continue
        if len(set(text)) == 1:
            same[k] = str(text[0])
        else:
            different[k] = text
    return Comparison(products=cards, same=same, different=different)
