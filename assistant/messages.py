"""What the assistant says, in each language it answers in: one table of templates.

Every fixed text of an answer (greetings, the lead of a product list, cart confirmations,
refusals, problems with a reference) is a key here with an English and a Chinese template;
`say(language, key, **fields)` fills one in. Product names, catalogue values and cited
policy text are data and stay as the catalogue has them. Does not decide what to say (the
agent and the planner do) nor the widget's own interface strings (`server/static`).
"""

from __future__ import annotations

from functools import cache

from assistant.language.text import Language

MESSAGES: dict[str, dict[Language, str]] = {
    "greeting": {
        "en": "Hello! Tell me what you are looking for, or send a photo of something you like.",
        "zh": "您好！请告诉我您想找什么，也可以发一张您喜欢的商品照片。",
    },
    "capabilities": {
        "en": "I can find products by words or photo, compare them, manage your cart and answer store policy questions.",
        "zh": "我可以按文字或照片帮您找商品、比较商品、管理购物车，并解答店铺政策问题。",
    },
    "unsupported_language": {
        "en": "I understand English and Chinese only (我只能理解英文和中文). Please write in one of them.",
        "zh": "我只能理解英文和中文，请用其中一种语言提问。",
    },
    # A refused input's own explanation (the error's, in the turn's language where it has one).
    "refused": {"en": "{error}", "zh": "无法处理这条消息：{error}"},
    # The language model could not word this answer (its error is for operators, in English).
    "model_left_out": {"en": "{error}; answering without it.", "zh": "语言模型暂时不可用，本次用模板回答（{error}）。"},
    "internal_error": {"en": "Something went wrong on our side; please try again.", "zh": "我们这边出了点问题，请再试一次。"},
    # -- product lists ------------------------------------------------------------------
    "found": {"en": "Here is what I found", "zh": "为您找到以下商品"},
    "more": {"en": "Here are more", "zh": "更多商品"},
    "others": {"en": "Here are others", "zh": "换一批商品"},
    "back": {"en": "Back to the earlier results", "zh": "回到之前的结果"},
    "no_back": {"en": "There are no earlier results to go back to.", "zh": "没有可以返回的之前的结果。"},
    "photo": {"en": "Here is what looks like your photo", "zh": "与您的照片相似的商品"},
    "video": {"en": "I saw {n} product(s) in your {seconds}-second clip.", "zh": "在您 {seconds} 秒的视频里看到 {n} 件商品。"},
    "video_item": {"en": "Product {item} (on screen at {seen}): {names}.", "zh": "商品 {item}（出现在 {seen}）：{names}。"},
    "similar": {"en": "Similar to {name}", "zh": "与 {name} 相似的商品"},
    "updated": {"en": "Updated the search", "zh": "已更新搜索"},
    "updated_with": {"en": "Updated the search ({changes})", "zh": "已更新搜索（{changes}）"},
    "listing": {"en": "{lead}: {names}.", "zh": "{lead}：{names}。"},
    "relaxed": {"en": " Nothing matched every filter, so I dropped: {relaxed}.", "zh": " 没有商品满足全部条件，已放宽：{relaxed}。"},
    "nothing_found": {"en": "I found no products for that. Try other words or fewer constraints.", "zh": "没有找到相关商品。请换个说法或减少条件。"},
    "out_of_scope": {
        "en": "I could not find anything like that in this store's catalogue for “{query}”. "
        "I can help with products in the catalogue, your cart and store policies.",
        "zh": "本店目录里没有与“{query}”相关的商品。我可以帮您找商品、管理购物车，并解答店铺政策问题。",
    },
    "no_prices": {"en": " This catalogue lists no prices, so I cannot order by price.", "zh": " 本店目录没有价格信息，无法按价格排序。"},
    "no_prices_refine": {
        "en": "This catalogue lists no prices, so I cannot show cheaper or pricier ones; the search stays as it was.",
        "zh": "本店目录没有价格信息，无法挑选更便宜或更贵的商品；搜索保持不变。",
    },
    "ordered_by_price": {"en": "ordered by price", "zh": "按价格排序"},
    "which_brand": {"en": " {total} products match. Which brand? {options}...", "zh": " 共有 {total} 件商品符合。您想要哪个品牌？{options}……"},
    "which_colour": {"en": " {total} products match. Which colour? {options}...", "zh": " 共有 {total} 件商品符合。您想要什么颜色？{options}……"},
    "search_failed": {"en": "The search failed: {error}.", "zh": "搜索失败：{error}。"},
    "could_not_search": {"en": "I could not search: {error}.", "zh": "无法搜索：{error}。"},
    # -- one product, comparisons, reasons -----------------------------------------------
    "details": {"en": "{name} (id {id}) — {facts}.", "zh": "{name}（编号 {id}）— {facts}。"},
    "no_product": {"en": "I could not find that product: {error}.", "zh": "找不到这件商品：{error}。"},
    "comparing": {"en": "Comparing {names}. ", "zh": "比较 {names}。"},
    "differ": {"en": "They differ in {diff}.", "zh": "区别：{diff}。"},
    "no_difference": {"en": "The catalogue lists no differences.", "zh": "目录中没有列出它们的区别。"},
    "share": {"en": " They share {same}.", "zh": " 相同之处：{same}。"},
    "compare_failed": {"en": "I could not compare those: {error}.", "zh": "无法比较这些商品：{error}。"},
    "why": {"en": "I picked {name} because it was {why}.{filters}", "zh": "我推荐 {name}，依据是：{why}。{filters}"},
    "why_filters": {"en": " Filters applied: {filters}.", "zh": "已应用的筛选：{filters}。"},
    # -- questions across the shown products ("which of these ...?") ---------------------
    "which_price": {"en": "Of these, {name} is the {order} (price {price}).", "zh": "这些商品中，{name} {order}（价格 {price}）。"},
    "price_asc": {"en": "cheapest", "zh": "最便宜"},
    "price_desc": {"en": "most expensive", "zh": "最贵"},
    "year_desc": {"en": "newest", "zh": "最新"},
    "year_asc": {"en": "oldest", "zh": "最早"},
    "which_no_prices": {
        "en": "This catalogue lists no prices, so I cannot tell which of these costs least or most.",
        "zh": "本店目录没有价格信息，无法判断哪件更便宜或更贵。",
    },
    "which_year": {"en": "Of these, {name} is the {order} (year {year}).", "zh": "这些商品中，{name} {order}（年份 {year}）。"},
    "which_mention": {"en": "Of these, {names} mention “{words}”.", "zh": "这些商品中，提到“{words}”的有：{names}。"},
    "which_unknown": {
        "en": "None of these products' details mention “{words}”, so I cannot say which is. What the catalogue lists: {facts}.",
        "zh": "这些商品的信息里都没有提到“{words}”，我无法判断。目录中的信息：{facts}。",
    },
    "which_ask": {
        "en": "Which of them do you mean? The catalogue lists: {facts}.",
        "zh": "您想按什么来挑？目录中的信息：{facts}。",
    },
    "no_reasons": {
        "en": "I have no ranking reasons for that product: it did not come from a search.",
        "zh": "这件商品不是搜索结果，所以没有排序依据。",
    },
    # -- cart --------------------------------------------------------------------------
    "which_to_add": {"en": 'Which product should I add? Say for example "the first one".', "zh": "要加入哪一件？比如可以说“第一个”。"},
    "confirm_add": {"en": "Shall I add {name} to your cart? (yes / no)", "zh": "要把 {name} 加入购物车吗？（好的 / 不用了）"},
    "pending_add": {"en": "Add {name}?", "zh": "加入 {name}？"},
    "added": {"en": "Added. Your cart has {count} item{s}.", "zh": "已加入。购物车里有 {count} 件商品。"},
    "confirm_remove": {"en": "Shall I remove {name} from your cart? (yes / no)", "zh": "要把 {name} 从购物车里删掉吗？（好的 / 不用了）"},
    "pending_remove": {"en": "Remove {name}?", "zh": "删掉 {name}？"},
    "removed": {"en": "Removed. Your cart has {count} item{s}.", "zh": "已删除。购物车里还有 {count} 件商品。"},
    "cart_failed": {"en": "I could not do that: {error}.", "zh": "操作失败：{error}。"},
    "did_you_mean": {"en": 'I\'m not sure I heard "{heard}" right. Did you mean {term}?', "zh": "我不确定是否听清了“{heard}”。您是说 {term} 吗？"},
    "heard_again": {"en": 'I heard "{heard}" and took it for "{query}".', "zh": "我听到的是“{heard}”，理解为“{query}”。"},
    "didnt_catch": {
        "en": 'I didn\'t catch "{heard}". Could you say what you are looking for again?',
        "zh": "我没听清“{heard}”。能再说一遍您想找什么吗？",
    },
    "say_again": {"en": "OK. Please say again what you are looking for.", "zh": "好的，请再说一遍您想找什么。"},
    "cart_unchanged": {"en": "OK, I left your cart as it was.", "zh": "好的，购物车保持不变。"},
    "cart_empty": {"en": "Your cart is empty.", "zh": "您的购物车是空的。"},
    "cart": {"en": "In your cart: {lines}.", "zh": "购物车里有：{lines}。"},
    "cart_line": {"en": "{quantity} x {name} (id {id})", "zh": "{quantity} 件 {name}（编号 {id}）"},
    # -- policies, likes ---------------------------------------------------------------
    "policy": {"en": "{text} (Source: {source}.)", "zh": "根据店铺政策：{text}（来源：{source}。）"},
    "no_policy": {
        "en": "I don't have a store policy that answers that, so I won't guess. Customer service can help.",
        "zh": "我没有能回答这个问题的店铺政策，不便猜测。客服可以帮您。",
    },
    "liked": {"en": "Noted: I'll show you more like it.", "zh": "记下了：之后会多推荐类似的商品。"},
    "disliked": {"en": "Noted: I'll show you less like it.", "zh": "记下了：之后会少推荐类似的商品。"},
    # -- references the planner cannot resolve -----------------------------------------
    "shown_only": {"en": "I have shown only {count} product{s} so far.", "zh": "目前只展示了 {count} 件商品。"},
    "no_such_number": {
        "en": "I have shown only {count} product{s}, so there is no number {number}.",
        "zh": "目前只展示了 {count} 件商品，没有第 {number} 件。",
    },
    "personalised": {"en": " Ordered by what you liked and disliked.", "zh": "已按您喜欢和不喜欢的商品排序。"},
    "nothing_to_compare": {"en": "There is nothing to compare yet: search for products first.", "zh": "还没有可比较的商品：请先搜索。"},
    "compare_which_other": {
        "en": "A comparison needs two products: which one should I compare {name} with? (for example: compare the first and the third)",
        "zh": "比较需要两件商品：要把{name}和哪一件比较？（例如：比较第一个和第三个）",
    },
    "nothing_shown": {"en": "I have not shown any products yet.", "zh": "我还没有展示任何商品。"},
}

# Field names as an answer says them ("colour black", "颜色 black").
FIELD_NAMES: dict[str, dict[Language, str]] = {
    "colour": {"en": "colour", "zh": "颜色"},
    "gender": {"en": "gender", "zh": "适用"},
    "for": {"en": "for", "zh": "适用"},
    "category": {"en": "category", "zh": "类别"},
    "brand": {"en": "brand", "zh": "品牌"},
    "exclude_brand": {"en": "exclude brand", "zh": "排除品牌"},
    "price": {"en": "price", "zh": "价格"},
    "price_min": {"en": "price min", "zh": "最低价"},
    "price_max": {"en": "price max", "zh": "最高价"},
    "season": {"en": "season", "zh": "季节"},
    "usage": {"en": "usage", "zh": "用途"},
    "year": {"en": "year", "zh": "年份"},
    "article_type": {"en": "article type", "zh": "款式"},
}
SEPARATOR: dict[Language, str] = {"en": "; ", "zh": "；"}


def join_names(language: Language, names: list[str]) -> str:
    """ "A", "A and B", "A, B and C" (A、B和C): product names in one sentence."""
    if len(names) < 2:
        return "".join(names)
    comma, conj = (", ", " and ") if language == "en" else ("、", "和")
    return f"{comma.join(names[:-1])}{conj}{names[-1]}"


def say(language: Language, key: str, **fields: object) -> str:
    """The `key` template in `language`, filled in; `s` is the plural ending of a `count`."""
    template = MESSAGES[key][language]
    if "count" in fields and "s" not in fields:
        fields["s"] = "" if fields["count"] == 1 else "s"
    return template.format(**fields)


def field_name(language: Language, name: str) -> str:
    return FIELD_NAMES.get(name, {}).get(language, name.replace("_", " "))


@cache
def check_messages() -> None:
    """Every key has both languages with the same fields (the test suite calls this)."""
    import string

    for key, by_lang in MESSAGES.items():
        fields = {lang: {f for _, f, _, _ in string.Formatter().parse(t) if f} - {"s"} for lang, t in by_lang.items()}
        if set(by_lang) != {"en", "zh"} or fields["en"] != fields["zh"]:
            raise ValueError(f"message {key!r}: languages {sorted(by_lang)}, fields {fields}")
