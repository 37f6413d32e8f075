"""Build the Chinese text query sets from KAGL (deterministic): `benchmarks/queries/kagl-zh-dev.jsonl`
(seed 20261202) and the held-out `kagl-zh-test.jsonl` (seed 31; nothing is tuned on it).

Everyday Chinese phrasings ("我想买一件黑色的男士T恤", "给老婆买双红色高跟鞋", "有没有彪马的
男款运动鞋") made from real attribute combinations, graded exactly like the English dev set
(`make_dev_queries._grade`: grade 2 = every named attribute matches, grade 1 = the article
type and all but one); each query also names its article type, for precision@10 by type.
The words here are a shopper's, written apart from the understanding's lexicon: several
(短袖T恤, 跑鞋, 腕表, 包包, 衬衣 ...) are synonyms a lexicon may or may not know.

`--compounds` builds `kagl-zh-compounds.jsonl` instead (seed 7): the product words are
compounds the lexicon lacks (石英表, 阔腿裤, 马丁靴 ...), read only through their head character
(`assistant/language/zh_heads.tsv`). The words were picked while writing that table, so its
figures are a development check, not held-out.

Usage: python benchmarks/make_zh_queries.py [CATALOGUE] [--seed N --name NAME] [--compounds]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from assistant.catalogue.schema import Product  # noqa: E402
from benchmarks.make_dev_queries import _grade  # noqa: E402

TYPES = {
    "Tshirts": ["T恤", "短袖T恤", "体恤"], "Casual Shoes": ["休闲鞋", "板鞋"], "Sports Shoes": ["运动鞋", "跑鞋"],
    "Watches": ["手表", "腕表"], "Handbags": ["手提包", "包包"], "Shirts": ["衬衫", "衬衣"], "Jeans": ["牛仔裤"],
    "Kurtas": ["库尔塔"], "Tops": ["上衣"], "Sandals": ["凉鞋"], "Heels": ["高跟鞋"], "Flip Flops": ["人字拖", "拖鞋"],
    "Backpacks": ["双肩包", "背包"], "Sunglasses": ["太阳镜", "墨镜"], "Belts": ["皮带", "腰带"], "Wallets": ["钱包"],
    "Formal Shoes": ["皮鞋", "正装鞋"], "Track Pants": ["运动裤"], "Shorts": ["短裤"], "Sweatshirts": ["卫衣"],
    "Jackets": ["夹克", "外套"], "Dresses": ["连衣裙"], "Trousers": ["长裤", "裤子"], "Caps": ["帽子", "棒球帽"],
    "Flats": ["平底鞋"], "Clutches": ["手拿包"], "Socks": ["袜子"],
}  # fmt: skip
# Product words no lexicon row names (checked by tests/test_language.py).
COMPOUNDS = {
    "Watches": ["石英表", "钢带表"], "Caps": ["遮阳帽", "渔夫帽"], "Trousers": ["阔腿裤", "工装裤", "休闲裤", "九分裤"],
    "Tops": ["打底衫", "雪纺衫"], "Dresses": ["长裙"], "Skirts": ["百褶裙"], "Flip Flops": ["沙滩拖"], "Socks": ["船袜", "棉袜"],
    "Booties": ["马丁靴", "雪地靴", "及踝靴"], "Scarves": ["方巾"],
}  # fmt: skip
GENDERS = {"Men": ["男士", "男款", "男生", "男式"], "Women": ["女士", "女款", "女生", "女式"], "Boys": ["男童", "男孩"], "Girls": ["女童", "女孩"]}
PEOPLE = {"Men": ["老公", "男朋友", "爸爸"], "Women": ["老婆", "女朋友", "妈妈"], "Boys": ["儿子"], "Girls": ["女儿"]}
COLOURS = {
    "Black": ["黑色", "黑"], "White": ["白色"], "Blue": ["蓝色"], "Brown": ["棕色", "褐色"], "Grey": ["灰色"], "Red": ["红色"],
    "Green": ["绿色"], "Pink": ["粉色", "粉红色"], "Navy Blue": ["藏青色", "深蓝色", "藏蓝色"], "Purple": ["紫色"], "Silver": ["银色"],
    "Yellow": ["黄色"], "Beige": ["米色"], "Gold": ["金色"], "Maroon": ["枣红色"], "Orange": ["橙色"], "Olive": ["军绿色", "橄榄绿"],
}  # fmt: skip
BRANDS = {
    "Nike": "耐克",
    "Puma": "彪马",
    "ADIDAS": "阿迪达斯",
    "Reebok": "锐步",
    "Fila": "斐乐",
    "Levis": "李维斯",
    "Fossil": "Fossil",
    "Lotto": "乐途",
    "Wrangler": "Wrangler",
    "Titan": "Titan",
    "Skechers": "斯凯奇",
    "Converse": "匡威",
    "Vans": "万斯",
}
USAGES = {"Casual": ["休闲"], "Sports": ["运动"], "Formal": ["正装", "商务"], "Ethnic": ["民族风"], "Party": ["派对"]}
TEMPLATES = [
    "我想买一件{colour}的{gender}{type}",
    "{gender}{colour}{type}",
    "有没有{colour}的{type}，{gender}穿的",
    "{brand}{colour}{type} {gender}",
    "给{person}买{colour}的{type}",
    "推荐几款{gender}{usage}{type}",
    "{colour}的{type}，要{gender}的",
    "帮我找{brand}的{gender}{type}",
    "想要{usage}风格的{colour}{type}，{gender}",
    "{gender}的{brand}{type}有吗",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("catalogue", nargs="?", type=Path, default=Path("../shared/data/kagl/products.csv"))
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--name", default="kagl-zh-dev")
    ap.add_argument("--n", type=int, default=70)
    ap.add_argument("--compounds", action="store_true", help="product words the lexicon lacks (kagl-zh-compounds, seed 7, 40 queries)")
    a = ap.parse_args()
    types = TYPES
    if a.compounds:
        types = COMPOUNDS
        a.seed, a.name, a.n = (7, "kagl-zh-compounds", 40) if a.name == "kagl-zh-dev" else (a.seed, a.name, a.n)
    products = load_catalogue(a.catalogue).products
    rng = random.Random(a.seed)
    by_type: dict[str, list[Product]] = defaultdict(list)
    for p in products:
        by_type[str(p.category)].append(p)
    seeds = [p for p in products if p.category in types and p.gender in GENDERS and p.colour in COLOURS]
    rng.shuffle(seeds)
    out: list[dict] = []
    seen: set[str] = set()
    for p in seeds:
        if len(out) >= a.n:
            break
        tpl = TEMPLATES[len(out) % len(TEMPLATES)]
        usage = p.attributes.get("usage")
        if ("{brand}" in tpl and p.brand not in BRANDS) or ("{usage}" in tpl and usage not in USAGES):
            continue
        want = {"type": p.category, "gender": p.gender, "colour": p.colour if "{colour}" in tpl else None,
                "brand": p.brand if "{brand}" in tpl else None, "usage": usage if "{usage}" in tpl else None}  # fmt: skip
        text = tpl.format(
            colour=rng.choice(COLOURS[str(p.colour)]),
            type=rng.choice(types[str(p.category)]),
            gender=rng.choice(GENDERS[str(p.gender)]),
            person=rng.choice(PEOPLE[str(p.gender)]),
            brand=BRANDS.get(str(p.brand), ""),
            usage=rng.choice(USAGES.get(str(usage), [""])),
        )
        if text in seen:
            continue
        rel = {q.id: g for q in by_type[str(p.category)] if (g := _grade(q, want)) > 0}
        if not 3 <= sum(1 for g in rel.values() if g == 2) <= 400:
            continue
        seen.add(text)
        out.append({"id": f"z{len(out):03d}", "kind": "text", "text": text, "article_type": p.category, "relevant": rel})
    dest = Path(__file__).parent / "queries" / f"{a.name}.jsonl"
    dest.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in out), encoding="utf-8")
    print(f"wrote {len(out)} queries to {dest}")


if __name__ == "__main__":
    main()
