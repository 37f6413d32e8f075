"""Build the Chinese scripted conversation set `benchmarks/conversations/kagl-zh.jsonl` (deterministic).

24 multi-turn conversations in Chinese over the KAGL catalogue, checked like the English set
(`eval_conversations.py`): the tools called, the filters, constraints on every shown product,
words the answer must contain (Chinese templates), and grounding. They cover search,
refinements (换成…的 / 男款的呢 / 不要… / 再来一些), references (第二个, 前两个, 它),
details, compare, similar, why, the cart with confirmation (好的 / 不用了), policy questions,
likes, greetings, an out-of-scope question, a photo with Chinese words, Traditional characters
and mixed scripts. `--held-out` writes `kagl-zh-test.jsonl` instead: 24 other conversations
(other attribute combinations) whose every shopper line is drawn from a second pool of
phrasings, written before the set was first run and never tuned on.
`--fresh` writes `kagl-zh-fresh.jsonl`: a second held-out set from a third pool, written
before the first held-out set's misses were worked on.
`--fourth` writes `kagl-zh-fourth.jsonl`: a third held-out set from a fourth pool, written by
someone who had not read the planner or the other pools.
`--fifth` writes `kagl-zh-fifth.jsonl` from a fifth pool written the same way, after the
fourth set's misses were worked on.
`--sixth` writes `kagl-zh-sixth.jsonl` from a sixth pool (`conversations/pools/sixth.json`, six
phrasings a line), written the same way and committed before the set was first run.
Usage: python benchmarks/make_conversations_zh.py [--held-out | --fresh | --fourth | --fifth | --sixth]
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402

WORDS = {"Watches": "手表", "Sandals": "凉鞋", "Casual Shoes": "休闲鞋", "Sports Shoes": "运动鞋", "Tshirts": "T恤", "Handbags": "手提包",
         "Jeans": "牛仔裤", "Shirts": "衬衫", "Backpacks": "双肩包", "Heels": "高跟鞋", "Flip Flops": "人字拖", "Sunglasses": "太阳镜",
         "Belts": "皮带", "Wallets": "钱包", "Tops": "上衣"}  # fmt: skip
COLOURS = {"Black": "黑色", "White": "白色", "Blue": "蓝色", "Brown": "棕色", "Grey": "灰色", "Red": "红色", "Navy Blue": "藏青色",
           "Green": "绿色", "Pink": "粉色", "Silver": "银色"}  # fmt: skip
GENDER = {"Men": "男士", "Women": "女士"}
OPENINGS = ["我想买{g}{c}{w}", "有没有{c}的{w}？{g}穿的", "帮我找{g}{c}{w}", "{g}{c}{w}"]
# The held-out set's phrasings: each dev line (the key) has other ways to say it. FRESH: a
# third pool for a second held-out set (`--fresh`), written before the first one's misses
# were worked on.
FRESH = {
    "openings": ["我要买{g}{c}{w}", "有{g}{c}{w}吗", "看看{g}{c}{w}", "需要{c}的{w}，{g}"],
    "第二个": ["第二件", "第二个给我介绍一下", "第二款详细信息"],
    "比较前两个": ["对比前两个", "第一款和第二款哪个好"],
    "把第一个加入购物车": ["把第一件加到购物车", "第一个我要了，加入购物车"],
    "好的": ["行", "好的，加上", "没问题"],
    "购物车里有什么": ["购物车里有啥", "看一下购物车"],
    "把它删掉": ["删掉它", "把它从购物车里拿掉"],
    "为什么推荐第一个？": ["为什么是第一个", "第一个的推荐理由是什么"],
    "有类似的吗": ["有相似的吗", "类似第一个的还有吗"],
    "退货政策是什么？": ["退货怎么办理", "退换货政策"],
    "发货要多久": ["多久发货", "配送要几天"],
    "第九个怎么样": ["第七个呢", "第9个"],
    "再来一些": ["再来几个", "还有吗"],
    "女款的呢": ["女款有吗", "女士的呢"],
    "男款的呢": ["男款有吗", "男士的呢"],
    "把第三个放进购物车": ["第三个放进购物车", "把第三件加入购物车"],
    "不用了": ["不用", "不要了"],
    "看看我的购物车": ["看看购物车", "购物车里有什么"],
    "我不喜欢第一个": ["不喜欢第一个", "第一个我不喜欢"],
    "你好": ["嗨", "你好啊"],
    "换成{c}的": ["换{c}的", "{c}的有吗", "来点{c}的"],
    "明天天气怎么样？": ["你会唱歌吗", "帮我写一首诗"],
    "像这样的，但是要黑色的": ["和这个一样的，黑色", "类似的黑色款"],
}
HELD_OUT = {
    "openings": ["求推荐{g}{c}{w}", "{c}{w}，{g}的，有吗", "想找{g}穿的{c}{w}", "来几款{g}{c}{w}"],
    "第二个": ["说说第二款", "第2件怎么样", "第二个的详情"],
    "比较前两个": ["前两款有什么区别", "第一个和第二个对比一下"],
    "把第一个加入购物车": ["第一个加购物车", "我要第一件，放进购物车"],
    "好的": ["确定", "可以的", "嗯，加吧"],
    "购物车里有什么": ["我的购物车里都有啥", "查看购物车"],
    "把它删掉": ["从购物车里去掉它", "删除它"],
    "为什么推荐第一个？": ["第一个为啥排在前面", "凭什么推荐第一个"],
    "有类似的吗": ["有没有跟第一个相似的", "来点类似的"],
    "退货政策是什么？": ["怎么退货", "可以退货吗"],
    "发货要多久": ["快递几天到", "发货需要几天"],
    "第九个怎么样": ["看看第八个", "第10个呢"],
    "再来一些": ["还有别的吗", "换一批"],
    "女款的呢": ["有女士的吗", "换成女款"],
    "男款的呢": ["有男士的吗", "换成男款"],
    "把第三个放进购物车": ["第三个加入购物车", "我要买第三个"],
    "不用了": ["算了", "先不要"],
    "看看我的购物车": ["购物车", "我的购物车"],
    "我不喜欢第一个": ["第一个不好看", "第一款太丑了"],
    "你好": ["您好", "谢谢"],
    "换成{c}的": ["有{c}的吗", "{c}的呢", "要{c}的"],
    "明天天气怎么样？": ["帮我订一张机票", "今天股市怎么样"],
    "像这样的，但是要黑色的": ["类似这个，黑色的", "这个有黑色的吗"],
}

# FOURTH: a fourth pool (`--fourth`), written by someone who had not read the planner or the
# other pools, before its set was ever run.
FOURTH = {
    "openings": ["我想买{g}{c}{w}", "有没有{c}的{g}{w}？", "帮我找几款{g}{c}{w}", "推荐一些{c}的{g}{w}", "请给我看看{c}{g}{w}"],
    "第二个": ["第二个怎么样？", "介绍一下第二款", "第2个的详细信息"],
    "比较前两个": ["比较一下前两个", "第一个和第二个有什么区别？", "1号和2号哪个好"],
    "把第一个加入购物车": ["我要第一个", "第一款帮我加购", "把1号加到购物车里"],
    "好的": ["行", "可以，加吧", "确定加入"],
    "购物车里有什么": ["我的购物车里都有啥？", "查看购物车", "购物车现在有哪些东西"],
    "把它删掉": ["把它从购物车删了", "删掉这个", "把刚才那件移出购物车"],
    "为什么推荐第一个？": ["为啥推荐第一个？", "第一款为什么排在最前面", "1号是根据什么推荐的？"],
    "有类似的吗": ["有和第一个差不多的吗", "还有类似款吗？", "找点跟这些相似的"],
    "退货政策是什么？": ["可以退货吗？", "退货要怎么操作", "支持七天无理由退货吗？"],
    "发货要多久": ["多久能发货？", "几天能到货", "快递一般要几天"],
    "第九个怎么样": ["第7个详细说说", "看看第八款", "第十个怎么样"],
    "再来一些": ["还有别的吗", "再多给我看几个", "换一批"],
    "女款的呢": ["有女款吗？", "女士的有没有", "换成女生款的"],
    "男款的呢": ["男款有吗", "有没有男士的", "给我看男生的"],
    "把第三个放进购物车": ["第三个加购物车", "我要3号", "把第三款加到购物车"],
    "不用了": ["不要了，谢谢", "先不加", "算了"],
    "看看我的购物车": ["打开购物车", "我想看一下购物车", "购物车给我看看"],
    "我不喜欢第一个": ["第一个不太喜欢", "1号不好看", "第一款不是我想要的"],
    "你好": ["你好呀", "谢谢你", "嗨"],
    "换成{c}的": ["有{c}的吗", "换{c}的看看", "我想要{c}的"],
    "明天天气怎么样？": ["明天会下雨吗？", "给我讲个笑话", "帮我订一张去上海的机票"],
    "像这样的，但是要黑色的": ["找个跟图片里一样的，要黑色", "类似这款的黑色有吗", "照这个样子来个黑的"],
}

# FIFTH: a fifth pool (`--fifth`), written like the fourth, after the fourth's misses were
# worked on and before its set was first run.
FIFTH = {
    "openings": ["有没有{g}{c}{w}推荐一下", "帮我找款{g}{c}{w}", "想看看{g}{c}{w}", "给我推荐几款{g}{c}{w}吧", "{g}{c}{w}有货吗"],
    "第二个": ["第二个详细说说", "第2个怎么样？", "说说第二款呗"],
    "比较前两个": ["前两个有啥区别", "第一个和第二个哪个好", "帮我对比下前两款"],
    "把第一个加入购物车": ["第一个加购物车", "把第一款放进购物车吧", "第1个帮我加入购物车"],
    "好的": ["好的，加吧", "可以", "嗯嗯，加上"],
    "购物车里有什么": ["我购物车里都有啥", "购物车现在有哪些东西？", "购物车里现在有什么呀"],
    "把它删掉": ["这个删了吧", "把这个从购物车移除", "帮我把它去掉"],
    "为什么推荐第一个？": ["为啥推荐第一个", "第一款为什么推荐给我？", "怎么推荐第1个呀"],
    "有类似的吗": ["有差不多的吗", "还有类似款吗？", "有没有跟这个相似的"],
    "退货政策是什么？": ["退货规则说一下", "退换货政策是怎样的", "你们怎么退货的，政策是啥"],
    "发货要多久": ["多久能发货", "几天能到啊", "下单后多久发出"],
    "第九个怎么样": ["第六个怎么样", "第十个呢", "看看第八个"],
    "再来一些": ["再推荐几个", "还有别的吗", "多给我看几款"],
    "女款的呢": ["有女款吗", "女士的有吗", "换成女款看看"],
    "男款的呢": ["有男款吗", "男士的有没有", "男款的看看"],
    "把第三个放进购物车": ["第三个加购", "第三款加入购物车", "把第3个放购物车里"],
    "不用了": ["不用，谢谢", "先不加了", "算了，不要"],
    "看看我的购物车": ["打开我的购物车", "查看购物车", "让我看看购物车"],
    "我不喜欢第一个": ["第一个不太喜欢", "第一款我不中意", "第1个不行，不喜欢"],
    "你好": ["您好", "在吗", "哈喽"],
    "换成{c}的": ["有{c}的吗", "换个{c}的", "我要{c}的"],
    "明天天气怎么样？": ["明天会下雨吗", "明天天气如何", "明儿天气好不好"],
    "像这样的，但是要黑色的": ["找个这样的，要黑色", "类似图里的，有黑色吗", "照着图片找，要黑色的"],
}


# flag → (which combinations, conversation id prefix, file name); no flag is the dev set.
SETS = {"": (slice(0, 24), "z", "kagl-zh"), "--held-out": (slice(24, 48), "y", "kagl-zh-test"), "--fresh": (slice(48, 72), "x", "kagl-zh-fresh"),
        "--fourth": (slice(72, 96), "w", "kagl-zh-fourth"), "--fifth": (slice(96, 120), "v", "kagl-zh-fifth"),
        "--sixth": (slice(120, 144), "u", "kagl-zh-sixth")}  # fmt: skip


def main() -> None:
    flag = next((a for a in sys.argv[1:] if a in SETS), "")
    where, prefix, name = SETS[flag]
    held_out = bool(flag)
    if flag == "--sixth":
        pool = json.loads((Path(__file__).parent / "conversations" / "pools" / "sixth.json").read_text(encoding="utf-8"))["zh"]
    else:
        pool = {"--fifth": FIFTH, "--fourth": FOURTH, "--fresh": FRESH}.get(flag, HELD_OUT)
    products = load_catalogue(Path("../shared/data/kagl/products.csv")).products
    rng = random.Random(24)
    combos = Counter((p.category, p.colour, p.gender) for p in products if p.category in WORDS and p.gender in GENDER and p.colour in COLOURS)
    good = sorted(c for c, n in combos.items() if n >= 12)
    rng.shuffle(good)
    photos = [p for p in products if p.image and p.category in ("Sports Shoes", "Casual Shoes", "Watches", "Tshirts", "Handbags")]
    rng.shuffle(photos)
    convs = []
    pick = random.Random(25)
    chosen = good[where]
    for n, (cat, colour, gender) in enumerate(chosen):
        g, c, w = GENDER[gender], COLOURS[colour], WORDS[cat]
        gender_ok = [gender, "Unisex"]
        openings = pool["openings"] if held_out else OPENINGS
        opening = openings[n % len(openings)].format(g=g, c=c, w=w)
        if n == 3:
            opening = "繁體：" + opening.replace("运动鞋", "運動鞋").replace("衬衫", "襯衫").replace("钱包", "錢包")
        # 凉鞋 are sandals of any kind: the catalogue files sports sandals under sandals too.
        types = [cat, "Sports Sandals"] if cat == "Sandals" else [cat]
        turns = [{"user": opening, "tools": ["search_products"], "filters": {"colour": [colour.lower()]},
                  "products": {"category": types, "colour": [colour], "gender": gender_ok}}]  # fmt: skip
        other = {"Men": "女款的呢", "Women": "男款的呢"}[gender]
        kind = n % 8
        if kind == 0:
            turns += [{"user": "第二个", "tools": ["get_product"], "mentions_shown": 1},
                      {"user": "比较前两个", "tools": ["compare_products"], "text_contains": ["比较"]}]  # fmt: skip
        elif kind == 1:
            turns += [{"user": "把第一个加入购物车", "tools": [], "text_contains": ["加入购物车吗"]},
                      {"user": "好的", "tools": ["add_to_cart"], "text_contains": ["1 件"]},
                      {"user": "购物车里有什么", "tools": ["view_cart"], "mentions_shown": 0},
                      {"user": "把它删掉", "tools": [], "text_contains": ["从购物车里删掉吗"]},
                      {"user": "好的", "tools": ["remove_from_cart"], "text_contains": ["0 件"], "said_as_is": True}]  # fmt: skip
        elif kind == 2:
            turns += [{"user": "为什么推荐第一个？", "tools": [], "text_contains": ["found by"]},
                      {"user": "有类似的吗", "tools": ["similar_products"], "products": {"category_any": [cat]}}]  # fmt: skip
        elif kind == 3:
            turns += [{"user": "退货政策是什么？", "tools": ["answer_policy_question"], "text_contains": ["30 days", "来源"]},
                      {"user": "发货要多久", "tools": ["answer_policy_question"], "text_contains": ["business days"]}]  # fmt: skip
        elif kind == 4:
            turns += [
                {"user": "第九个怎么样", "tools": [], "text_contains": ["只展示了"]},
                {"user": "再来一些", "tools": ["search_products"], "products": {"category": [cat], "colour": [colour]}, "new_products": True},
            ]
        elif kind == 5:
            turns += [{"user": other, "tools": ["search_products"], "text_contains": ["适用"],
                       "products": {"category": [cat], "gender": [{"Men": "Women", "Women": "Men"}[gender], "Unisex"]}}]  # fmt: skip
        elif kind == 6:
            turns += [{"user": "把第三个放进购物车", "tools": [], "text_contains": ["加入购物车吗"]},
                      {"user": "不用了", "tools": [], "text_contains": ["购物车保持不变"]},
                      {"user": "看看我的购物车", "tools": ["view_cart"], "text_contains": ["空的"]}]  # fmt: skip
        else:
            turns += [{"user": "我不喜欢第一个", "tools": [], "text_contains": ["记下了"]},
                      {"user": "你好", "tools": [], "text_contains": ["您好"]}]  # fmt: skip
        alt = None
        if n % 4 == 1:
            alt = next((k for k in ("Black", "White", "Blue", "Brown") if k != colour and combos[(cat, k, gender)] >= 5), None)
        if n % 4 == 1 and alt is not None:
            turns.append({"user": f"换成{COLOURS[alt]}的", "tools": ["search_products"], "filters": {"colour": [alt.lower()]},
                          "products": {"category": [cat], "colour": [alt]}, "text_contains": ["颜色"]})  # fmt: skip
        if n % 6 == 2:
            turns.append({"user": "明天天气怎么样？", "tools": [], "text_contains": ["没有"]})
        if n % 5 == 0:
            p = photos[n]
            turns.append({"user": "像这样的，但是要黑色的", "photo": f"../shared/data/kagl/{p.image.relative_to(Path('../shared/data/kagl'))}",
                          "tools": ["search_by_photo"], "products": {"colour_share": {"Black": 0.6}}})  # fmt: skip
        if held_out:
            for t in turns[1:]:
                if t.pop("said_as_is", False):  # the yes to a removal: drawn from no pool, so the other phrasings stay as first drawn
                    continue
                key = "换成{c}的" if t["user"].startswith("换成") and t["user"].endswith("色的") else t["user"]
                alt = t["user"][2:-1] if key == "换成{c}的" else ""
                t["user"] = pick.choice(pool[key]).format(c=alt)
        for t in turns:
            t.pop("said_as_is", None)
        convs.append({"id": f"{prefix}{n:02d}", "turns": turns})
    dest = Path(__file__).parent / "conversations" / f"{name}.jsonl"
    dest.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in convs), encoding="utf-8")
    print(f"wrote {len(convs)} conversations, {sum(len(c['turns']) for c in convs)} turns, to {dest}")


if __name__ == "__main__":
    main()
