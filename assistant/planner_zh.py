"""The planner's Chinese tables: intents, confirmations and references in Chinese messages.

Chinese has no word spaces, so its patterns are written without word boundaries and read the
normalised (Simplified, half-width) message. References resolve the same way as in English:
ordinals (第二个, 第2款), counts (前两个), the last (最后一个), a shown product's category or
colour (那块手表, 红色的那个: the category word is read through the lexicon bridge), and
pronouns (它, 这个, 那款). Does not own what a turn does with them (`planner`, the agent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.language.zh import chinese_bridge, chinese_number
from assistant.messages import say
from assistant.references import picked, step_from
from assistant.retrieval.understanding import singular

if TYPE_CHECKING:
    from assistant.planner import Intent, ShownProduct

_THANKS = r"([，,。！!\s~～]*(谢谢|谢了|多谢|麻烦了|麻烦你了|吧|啊|呀|哈|了|呢|哦|喔|嘛))*[。！!\s~～]*$"
# A confirmation is one or more yes-words ("嗯，加吧", "好的，加上"), a refusal one or more no-words.
_YES_WORDS = (
    r"(确认|确定|好的|好啊|好吧|好滴|好哒|好嘞|好呀|好|行吧|行啊|行|成|可以的|可以|是的|是|对的|对|嗯嗯|嗯呢|嗯|没问题|加吧|加上|加入|加|要的|要|"
    r"就这个|就它|买吧|买|来吧|ok|OK|Ok)"
)
# Not now is a no too ("再想想", "下次吧", "先这样"): the cart stays as it is either way.
_NO_WORDS = (
    r"(不用了|不用|不要了|不要|不加了|先不加|不加|不了|算了|取消|别加|先不要|先不用|先不|不需要|不必了|暂时不用|暂时不要|暂时不|现在不要|"
    r"先别|别了|不买了|不想要了|我再想想|再想想|考虑一下|考虑考虑|再看看|先这样|等等再说|等会再说|以后再说|回头再说|下次吧|下次|还没想好|没想好|no)"
)
_PARTICLE = r"(吧|啊|呀|哈|呢|了)?"
YES = re.compile(rf"^\s*(嗯[…\.。，,\s]*)?{_YES_WORDS}{_PARTICLE}([，,、\s…]*{_YES_WORDS}{_PARTICLE})*" + _THANKS)
NO = re.compile(rf"^\s*(嗯[…\.。，,\s]*|呃[…\.。，,\s]*|还是|那)?{_NO_WORDS}{_PARTICLE}([，,、\s…]*{_NO_WORDS}{_PARTICLE})*" + _THANKS)
_HELLO = (
    r"(你好|您好|嗨|哈喽|哈罗|hello|hi|早上好|中午好|下午好|晚上好|早安|谢谢你|谢谢|谢啦|谢了|多谢|感谢|辛苦了|再见|拜拜"
    r"|在吗|在么|在不在|有人吗|亲|客服|老板)"
)
GREETING = re.compile(rf"^\s*({_HELLO}[啊呀吗么哈哦亲！!。，,?？~～\s]*)+$", re.I)

_CART = r"(购物车|购物袋|车里|车中)"
_CLASSIFIER = r"(个|件|款|双|块|条|只|顶|副|套|张|支|瓶|样)"
# A card's number as shops say it: "3号", "五号" (1 to 10, so "38号" stays a size and "5月3号" a date).
_HAO = r"(?<![\d一二三四五六七八九十第月])(?:10|[1-9]|十|[一二三四五六七八九])\s*号(?!码|鞋)"
_POS = rf"(第\s*[一二三四五六七八九十\d]+\s*{_CLASSIFIER}?|{_HAO}|这(个|款|件|双|块|条|只)|那(个|款|件|双|块|条|只)|它)"
# "1和3", "2跟4": two bare card numbers joined, as in "1和3哪个好".
_PAIR = re.compile(r"(?<![\d.])(10|[1-9])\s*(?:和|跟|与|还是|或|、|,|，|vs|VS)\s*(10|[1-9])(?![\d.]|\s*(块|元|天|个月|年|岁|码|cm|厘米|折))")
INTENT_PATTERNS: list[tuple[Intent, re.Pattern[str]]] = [
    (
        "view_cart",
        re.compile(
            rf"(看看|查看|看一下|看下|看一眼|瞅瞅|瞧瞧|查一下|查下|显示|打开|列出|我的).{{0,3}}{_CART}|{_CART}.{{0,4}}(有什么|有啥|有哪些|里面|情况|是啥|是什么|几件|多少)"
            rf"|{_CART}.{{0,4}}(看看|看一下|看下|瞧瞧|看一看|瞅瞅|列一下|列出来|清单)|^\s*(把|给我)?{_CART}(列出来|列一下)?\s*[?？]?$"
            r"|我(都|已经|之前|刚才)?(加|选|挑)了(哪些|什么|啥|几)|(加|选)的东西(呢|有哪些)|已经(加购|加入|选)的"
        ),
    ),
    ("remove_from_cart", re.compile(rf"(删除|删掉|删了|删一下|删下|移除|去掉|拿掉|拿出来|取出|移出|清掉|清空|不要.{{0,6}}了|{_CART}.{{0,8}}取消)")),
    # Store questions before the cart's add: "今天下单明天能到吗" asks about delivery.
    (
        "policy",
        re.compile(
            r"(退货|退款|换货|退换|能退|可以退|包退|退吗|怎么退|无理由|能换|可以换|怎么换|换码|换尺码|包换|运费|配送|发货|快递|物流|包邮|邮费|送货"
            r"|保修|质保|保修期|付款|支付|花呗|信用卡|分期|货到付款|订单|到货|送到|几天到|多久到|多久能到|几天能到|能到吗|送达|营业时间|几点开门|政策|规定|售后|发票|会员|正品)"
        ),
    ),
    (
        "add_to_cart",
        re.compile(
            rf"(加入|加到|放进|放入|放到|添加到|加进|放|加).{{0,3}}{_CART}|加购|加车|下单|结账|拍下|就它了|就要它|就这个了|就它吧"
            r"|(我要|我就要|就要|我买|买)(买)?[^，,。]{0,8}?([这那](个|款|双|件|块|条|只|顶|副)|它|第)"
            # "第一个我要了", "五号帮我加一下", "要6号那个": a card, then (or after) a buying verb.
            rf"|{_POS}[^，,。？?]{{0,4}}(我要了|要了|我要|要一|来一|拍了|买了|买吧|买下|加一下|加下|加上|加吧|加进|给我加|帮我加|也加)"
            rf"|(^|[^不想看])(要|就要|我要|来|拍)\s*{_POS}(?!.*(详情|详细|介绍|信息|参数|材质|怎么样|多少钱|尺码|大小))"
        ),
    ),
    (
        "back",
        re.compile(
            r"(回到|返回|回去|回上一|回之前).{0,6}(结果|搜索|列表|那些|那批|页)?"
            r"|(之前|上一次|上次|刚才|前面)的?(结果|搜索|列表|那批|那些)"
        ),
    ),
    (
        "why",
        re.compile(r"(为什么|为啥|为何|凭什么|凭啥|怎么会推荐|理由|(干嘛|干吗|咋)推|推荐?(的)?原因|根据什么|怎么(选|挑|找)(出来)?的)"),
    ),
    (
        "compare",
        re.compile(r"(比较|对比|比一比|比比|比下|比一下|区别|差别|差在哪|差哪|不同之处|有什么不同|有啥不同|哪个好|哪个更好|选哪个|选哪款|挑哪个)"),
    ),
    # A question across the shown products ("哪个最便宜?"); "哪个好" compares.
    ("which", re.compile(rf"(哪(一)?{_CLASSIFIER}|哪些)(是|比较|最|更|有|能|可以|适合|防水|便宜|贵|.{{0,4}}(更|最|比较))")),
    (
        "dislike",
        re.compile(
            r"(不(太|怎么|大|是很|是特别)?(喜欢|中意|满意)|讨厌|不好看|难看|太丑|丑|不合适|不是我的风格"
            r"|太花|太艳|太亮|太俗|太土|太老气|太夸张|太花哨|太素|太正式|太休闲|不是我的菜|不是我(想)?要的|不合.{0,2}口味|没感觉|没眼缘|不咋地|不怎么样|不太行|不行)"
            # Words that dislike only when said of a card ("第四款一般般", "3号有点土").
            rf"|{_POS}.{{0,4}}(一般般|一般|土|廉价|普通|怪怪|奇怪|low|pass|丑|不好看|难看)"
        ),
    ),
    (
        "like",
        re.compile(
            r"(我喜欢|很喜欢|挺喜欢|好喜欢|喜欢这|喜欢第|不错|很好看|挺好看|真好看|太好看|好漂亮|很漂亮|完美)"
            # Praise that likes only when said of a card ("2号绝了", "第4个有点心动").
            rf"|{_POS}.{{0,6}}(好看|好美|美|心动|胃口|爱了|太爱|颜值|绝了|可爱|质感|好酷|酷|有感觉|舒服|蛮好|漂亮|喜欢)"
        ),
    ),
    # Two cards joined ("2号和5号材质一样吗"), after the likes and dislikes that may name two.
    # A question about two cards joined ("2号和5号材质一样吗"); "看看第二个和第四个" shows both.
    ("compare", re.compile(rf"({_POS}\s*(和|跟|与|还是|或|、|vs|VS)\s*{_POS}|{_HAO}\s*{_HAO})(?=.*(吗|呢|？|\?|哪|一样|相同|不同|差))")),
    (
        "similar",
        re.compile(
            r"(类似|相似|差不多的|同款|一样的|像这样|像这个|相近|同类)"
            rf"|{_POS}.{{0,3}}(这种|那种|这样|那样|这类|那类|同风格|一样风格)|(像|和|跟){_POS}.{{0,4}}(一样|像|接近|这样|那样|这种|风格)"
        ),
    ),
    (
        "details",
        re.compile(
            r"(详情|详细|介绍一下|介绍下|说说|讲讲|更多信息|具体信息|参数|信息|多少钱|什么价|价格是|是什么材质)"
            r"|(看看|看一下|看一看|瞧瞧|给我看|让我看)\s*(第|中间|最后|下一|上一|前一|后一)"
            # A question about one card ("2号包有多大", "第四个鞋跟多高"), even naming its type.
            rf"|{_POS}.{{0,6}}(多大|多高|多长|多重|多宽|多厚|什么|啥|能不能|能装|防水吗|透气吗|材质|面料|尺码|真皮|怎么样)"
        ),
    ),
    (
        "more",
        re.compile(
            r"^\s*(再来|再给我|再看|再推荐|再找|还有|更多|下一页|换一批|继续|多来)(一些|一点|点|几个|几款|些|别的|其他的?)?(吧|吗|呢)?"
            r"[的吗呢吧？?！!。\s]*$|换一批|下一页|更多结果"
            r"|^\s*再?多(给我|帮我)?(看|来|推荐|找)?(几个|几款|一些|一点|些)[的吗呢吧？?！!。\s]*$"
        ),
    ),
]
# "More" said loosely ("还有别的款吗", "再往后翻翻", "不止这几个吧"): read only after a search,
# and only when the message names no product type or attribute (then it refines).
MORE_LOOSE = re.compile(
    r"(还有|别的|其他|其它|更多|再来|再给|再推|再找|再看|接着看|继续|往后|后面还|下一页|换一批|多点|多来|多看|多推|不止|就这些|就这几)"
)
# Openings that change the last search; a message that names only attributes refines too
# (the planner asks the understanding), so these need not list every phrasing.
REFINE_START = re.compile(r"^\s*(换成|换个|换一个|改成|改为|只要|只看|还是要|我?不要|我?不想要|别要|除了|便宜|贵一点|更便宜)")
CART_WORD = re.compile(_CART)

_ORDINAL = re.compile(rf"第\s*([一二三四五六七八九十\d]+)\s*{_CLASSIFIER}?")
_FIRST_N = re.compile(rf"前\s*([两二三四五2-5])\s*{_CLASSIFIER}?")
_BOTH = re.compile(rf"(两个都|两款都|两件都|两双都|都要|这两{_CLASSIFIER}|那两{_CLASSIFIER}|两者|它们俩|这俩|那俩)")
_LAST = re.compile(rf"最后(一)?{_CLASSIFIER}|倒数第一")
_MIDDLE = re.compile(rf"中间(的|那|那一|这)?{_CLASSIFIER}?")
_STEP = re.compile(rf"(下|后|上|前)一{_CLASSIFIER}|(后面|前面)(那|的)(一)?{_CLASSIFIER}")
SAME_COLOUR = re.compile(r"(这个|那个|这种|那种|同样的?|一样的?|相同的?|同一?个?|它的|这|那)颜色|同色")
ASK_OTHERS = re.compile(r"(换|别的|其他|其它|再来|再给|来点|看看|有没有|一点的|一些的)")
IN_CART = re.compile(rf"{_CART}(里|中)?的?(第|最后|中间)")
ALL_SHOWN = re.compile(r"(这些|那些|它们|都|全部|所有)")
POSITIONAL = re.compile(rf"第\s*[一二三四五六七八九十\d]+\s*{_CLASSIFIER}|{_HAO}|最后(一)?{_CLASSIFIER}|中间(的|那|那一|这)?{_CLASSIFIER}")
GOES_WITH = re.compile(rf"(搭配|配|搭|配上|搭上)(它|它们|这|那)(一)?{_CLASSIFIER}?|(和|跟|与)(它|这{_CLASSIFIER}|那{_CLASSIFIER}).{{0,2}}(搭|配)")
PRONOUN = re.compile(rf"(它|它们|这{_CLASSIFIER}|那{_CLASSIFIER}|这一{_CLASSIFIER}|那一{_CLASSIFIER}|这些|那些|这|那)")
BARE_REFERENCE = re.compile(
    rf"^\s*(那|还有|和|看看|看一下|给我看看|我看看|我想看看|能看看)?\s*(第\s*[一二三四五六七八九十\d]+\s*{_CLASSIFIER}?|{_HAO}|最后(一)?{_CLASSIFIER}|这{_CLASSIFIER}|那{_CLASSIFIER}"
    rf"|中间(的|那|那一|这)?{_CLASSIFIER}?|(下|后|上|前)一{_CLASSIFIER}|(后面|前面)(那|的)(一)?{_CLASSIFIER})"
    r"(呢|吧|看看|怎么样)?[？?。！!\s]*$"
)


def _number(s: str) -> int:
    return int(s) if s.isdigit() else chinese_number(s)


def resolve_references_zh(text: str, shown: Sequence[ShownProduct], focus: str | None) -> tuple[list[str], str | None]:
    """Product ids a Chinese message points at, and a problem (in Chinese) when one is out of reach."""
    n = len(shown)
    m = _FIRST_N.search(text)
    if m or _BOTH.search(text):
        count = _number(m.group(1)) if m else 2
        if count > n:
            return [], say("zh", "shown_only", count=n)
        return [p.id for p in shown[:count]], None
    picks = [(mm.start(), _number(mm.group(1)) - 1) for mm in _ORDINAL.finditer(text)]
    picks += [(mm.start(), _number(mm.group(0).rstrip("号 ")) - 1) for mm in re.finditer(_HAO, text)]
    for mm in _PAIR.finditer(text):
        picks += [(mm.start(1), int(mm.group(1)) - 1), (mm.start(2), int(mm.group(2)) - 1)]
    if (last := _LAST.search(text)) is not None:
        picks.append((last.start(), n - 1))
    if (mid := _MIDDLE.search(text)) is not None and n:
        picks.append((mid.start(), (n - 1) // 2))
    if not picks and (step := _STEP.search(text)) is not None and n:
        forward = (step.group(1) or step.group(3) or "")[:1] in ("下", "后")
        picks.append((step.start(), step_from(shown, focus, "after" if forward else "before")))
    if picks:
        return picked(picks, shown, "zh")
    # "那块手表", "这双鞋", "红色的那个": a demonstrative with a shown product's category or
    # colour, read through the lexicon bridge.
    if re.search(r"[这那]", text):
        english = " " + " ".join(singular(w) for w in re.findall(r"[a-z]+", chinese_bridge().to_english(text).text.lower())) + " "
        for p in shown:
            cat = " ".join(singular(w) for w in (p.category or "").lower().split())
            if cat and (f" {cat} " in english or f" {cat.split()[-1]} " in english):
                return [p.id], None
        for p in shown:
            if p.colour and f" {p.colour.lower()} " in english:
                return [p.id], None
    if PRONOUN.search(text) and (focus or shown):
        return [focus or shown[0].id], None
    return [], None
