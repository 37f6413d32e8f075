"""Cart tools: `view_cart`, `add_to_cart`, `remove_from_cart` on the shopper's session.

The agent asks the shopper to confirm before it calls `add_to_cart`; these tools only act.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.errors import ConfigError, QueryError
from assistant.sessions import CartLine
from tools.context import ToolContext


class ViewCartArgs(BaseModel):
    pass


class AddToCartArgs(BaseModel):
    product_id: str = Field(description="The product to add")
    quantity: int = Field(1, ge=1, le=20)


class RemoveFromCartArgs(BaseModel):
    product_id: str = Field(description="The product to remove")


class Cart(BaseModel):
    lines: list[CartLine]
    items: int


def _session(ctx: ToolContext):  # noqa: ANN202 - SessionState
    if ctx.session is None:
        raise ConfigError("cart tools need a shopper session")
    return ctx.session


def _cart(ctx: ToolContext) -> Cart:
    lines = list(_session(ctx).cart)
    return Cart(lines=lines, items=sum(line.quantity for line in lines))


def view_cart(ctx: ToolContext, args: ViewCartArgs) -> Cart:
    return _cart(ctx)


def add_to_cart(ctx: ToolContext, args: AddToCartArgs) -> Cart:
    found = ctx.retriever.products([args.product_id])
    if args.product_id not in found:
        raise QueryError(f"no product with id {args.product_id!r}")
    session = _session(ctx)
    for line in session.cart:
        if line.product_id == args.product_id:
            line.quantity += args.quantity
            return _cart(ctx)
    session.cart.append(CartLine(product_id=args.product_id, name=found[args.product_id].name, quantity=args.quantity))
    return _cart(ctx)


def remove_from_cart(ctx: ToolContext, args: RemoveFromCartArgs) -> Cart:
    session = _session(ctx)
    if not any(line.product_id == args.product_id for line in session.cart):
        raise QueryError(f"product {args.product_id!r} is not in the cart")
    session.cart = [line for line in session.cart if line.product_id != args.product_id]
    return _cart(ctx)
