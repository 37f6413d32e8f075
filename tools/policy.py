"""`answer_policy_question`: the store's own policy text that answers a question, cited."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.errors import ConfigError
from tools.context import ToolContext


class PolicyQuestionArgs(BaseModel):
    question: str = Field(description="The shopper's question about returns, shipping, payment, warranty...")


class PolicyAnswerResult(BaseModel):
    found: bool
    text: str | None = None  # the policy passage, verbatim
    source: str | None = None  # "file.md § Section"
    similarity: float | None = None


def answer_policy_question(ctx: ToolContext, args: PolicyQuestionArgs) -> PolicyAnswerResult:
    if ctx.policies is None:
        raise ConfigError("no store policy documents are loaded")
    ans = ctx.policies.answer(args.question)
    if ans is None:
        return PolicyAnswerResult(found=False)
    p = ans.passage
    return PolicyAnswerResult(found=True, text=p.text, source=f"{p.source} § {p.section}", similarity=round(ans.similarity, 4))
