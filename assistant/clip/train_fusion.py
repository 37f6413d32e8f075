"""Training attention fusion (`clip.fusion_model`) on composed pairs made from the catalogue.

A composed pair is a photo of product A, words that change it, and every product B that is
what was asked: A's article type with the change made and the rest kept. The changes come from
the catalogue's attributes (`changes`): another colour, the other gender, another usage, a
material that names of the type carry. Only photos of the CLIP's training split are used as A
(the validation split's photos are the benchmarks' queries), and the training phrasings
(`TRAIN_PHRASES`) are not the benchmarks' (`benchmarks/make_composed_queries.py`).

Loss, per pair, as ALBEF trains: contrastive over the whole catalogue (the query vector against
every product's fused vector, all of B's as positives, A itself left out), plus the matching
head on one B against the three products the query vector ranks highest that are not B's.
The CLIP towers are frozen; their tokens are computed once (a few minutes) and cached.

Owns the composed pairs and the training loop; not the module (`clip.fusion_model`).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from assistant.catalogue.schema import Product
from assistant.clip.fusion_model import AttentionFusion, FusionModelConfig
from assistant.clip.model import LoadedClip
from assistant.clip.tokens import photo_tokens, unit, word_tokens
from assistant.clip.train import is_validation
from assistant.encoders.images import load_image
from assistant.errors import AssistantError

CHANGE_KINDS = ("colour", "gender", "usage", "material")
COLOURS = ("Black", "White", "Blue", "Red", "Brown", "Grey", "Green", "Pink", "Navy Blue", "Yellow", "Purple", "Orange", "Maroon", "Beige", "Silver")
USAGES = {"Sports": "sports", "Formal": "formal", "Party": "party", "Ethnic": "ethnic", "Casual": "casual"}
MATERIALS = ("leather", "denim", "silk", "cotton", "canvas", "suede", "linen", "wool")
OTHER_GENDER = {"Men": "Women", "Women": "Men"}
MIN_ANSWERS = 5
# The training phrasings: none of them is a benchmark's.
TRAIN_PHRASES = {
    "colour": ["in {x}", "{x} version", "make it {x}", "want it in {x}", "but {x}", "the {x} one", "{x} instead", "any in {x}"],
    "gender": ["for {x}", "{x} version of this", "same for {x}", "the {x} one"],
    "usage": ["{x} version", "for {x}", "but for {x} use", "{x} style"],
    "material": ["in {x}", "made of {x}", "{x} version", "a {x} one"],
}
TRAIN_GENDER_WORDS = {"Men": ["men", "guys", "gents", "my husband"], "Women": ["women", "girls", "my wife", "a lady"]}


def gender_ok(p: Product, gender: str | None) -> bool:
    return gender is None or p.gender == gender or p.gender == "Unisex"


def has_material(p: Product, word: str) -> bool:
    return word in p.name.lower().split()


@dataclass(frozen=True)
class Change:
    """One change the catalogue can answer for a product: its kind, value, words and answers."""

    kind: str
    value: str
    word: str  # the value as a shopper says it ("" for gender: the phrase picks the words)
    relevant: dict[str, int]  # product id → grade (2: the change made and the rest kept; 1: the change)


def changes(p: Product, kind: str, of_type: list[Product]) -> list[Change]:
    """The changes of `kind` to `p` with at least `MIN_ANSWERS` grade-2 answers among `of_type`."""
    out: list[Change] = []
    others = [q for q in of_type if q.id != p.id]
    # one pass groups the type's products by the attribute changed (a type can hold thousands)
    if kind == "colour":
        by_colour: dict[str | None, list[Product]] = defaultdict(list)
        for q in others:
            by_colour[q.colour].append(q)
        for c in COLOURS:
            if c != p.colour and c in by_colour:
                out.append(Change(kind, c, c.lower(), {q.id: 2 if gender_ok(q, p.gender) else 1 for q in by_colour[c]}))
    elif kind == "gender" and p.gender in OTHER_GENDER:
        g = OTHER_GENDER[p.gender]
        out.append(Change(kind, g, "", {q.id: 2 if q.colour == p.colour else 1 for q in others if gender_ok(q, g)}))
    elif kind == "usage":
        by_usage: dict[str | None, list[Product]] = defaultdict(list)
        for q in others:
            if gender_ok(q, p.gender):
                by_usage[q.attributes.get("usage")].append(q)
        for u, word in USAGES.items():
            if u != p.attributes.get("usage") and u in by_usage:
                out.append(Change(kind, u, word, {q.id: 2 if q.colour == p.colour else 1 for q in by_usage[u]}))
    elif kind == "material":
        by_material: dict[str, list[Product]] = defaultdict(list)
        for q in others:
            for m in set(q.name.lower().split()).intersection(MATERIALS):
                by_material[m].append(q)
        for m in MATERIALS:
            if not has_material(p, m) and m in by_material:
                out.append(Change(kind, m, m, {q.id: 2 if gender_ok(q, p.gender) else 1 for q in by_material[m]}))
    return [c for c in out if sum(g == 2 for g in c.relevant.values()) >= MIN_ANSWERS]


@dataclass
class FusionTrainConfig:
    """Hyper-parameters; the defaults produce the packaged model."""

    minutes: float = 12.0  # training time budget (after the tokens are cached)
    max_steps: int | None = None  # a step budget instead (reproducing a model, tests)
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.01
    temperature: float = 0.05
    match_weight: float = 0.5
    pairs_per_photo: int = 4  # one per change kind the catalogue can answer
    max_positives: int = 64
    seed: int = 0
    model: FusionModelConfig = field(default_factory=FusionModelConfig)


@dataclass
class FusionTrainReport:
    photos: int
    pairs: int
    steps: int
    minutes: float
    loss_first: float
    loss_last: float
    gate: float
    config: dict


def _set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def catalogue_vectors(clip: LoadedClip, products: list[Product], photo_vectors: dict[str, torch.Tensor]) -> torch.Tensor:
    """Every product's fused vector as ingest stores it: unit(photo + caption), or the caption's."""
    from tqdm import tqdm

    from assistant.encoders.clip import ClipEncoder

    encoder = ClipEncoder(clip, batch_size=256)
    step = 4096
    caps = []
    for i in tqdm(range(0, len(products), step), desc="catalogue captions", unit="chunk"):
        caps.append(torch.from_numpy(encoder.encode_text([p.clip_caption() for p in products[i : i + step]])))
    out = torch.cat(caps)
    for i, p in enumerate(products):
        if p.id in photo_vectors:
            out[i] = unit(photo_vectors[p.id] + out[i])
    return out


def composed_pairs(products: list[Product], with_photo: list[str], rng: random.Random, per_photo: int) -> list[tuple[str, str, list[str]]]:
    """(photo's product id, words, grade-2 answer ids) for training photos."""
    by_id = {p.id: p for p in products}
    by_type: dict[str, list[Product]] = defaultdict(list)
    for p in products:
        by_type[str(p.category)].append(p)
    pairs = []
    for pid in with_photo:
        p = by_id[pid]
        kinds = list(CHANGE_KINDS)
        rng.shuffle(kinds)
        for kind in kinds[:per_photo]:
            options = changes(p, kind, by_type[str(p.category)])
            if not options:
                continue
            ch = rng.choice(options)
            word = rng.choice(TRAIN_GENDER_WORDS[ch.value]) if kind == "gender" else ch.word
            words = rng.choice(TRAIN_PHRASES[kind]).format(x=word)
            pairs.append((pid, words, [i for i, g in ch.relevant.items() if g == 2]))
    return pairs


def train_fusion(
    clip: LoadedClip,
    products: list[Product],
    out: Path,
    cfg: FusionTrainConfig | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> FusionTrainReport:
    """Train attention fusion on composed pairs from `products`; save it to `out` with a report."""
    from tqdm import tqdm

    cfg = cfg or FusionTrainConfig()
    log = log or (lambda m: print(m, flush=True))  # said as it happens, also into a log file
    _set_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    for prm in clip.model.parameters():
        prm.requires_grad_(False)
    with_photo = [p for p in products if p.image is not None]
    key = hashlib.sha1(("|".join(p.id for p in with_photo) + clip.name).encode()).hexdigest()[:12]
    cache = (cache_dir / f"fusion-tokens-{key}.pt") if cache_dir else None
    if cache and cache.is_file():
        log(f"using cached photo tokens {cache}")
        saved = torch.load(cache, weights_only=False)
    else:
        ids, patches, vectors = [], [], []
        for i in tqdm(range(0, len(with_photo), 64), desc="photo tokens", unit="batch"):
            chunk, images = [], []
            for p in with_photo[i : i + 64]:
                try:
                    images.append(load_image(p.image))  # type: ignore[arg-type]
                    chunk.append(p.id)
                except AssistantError:
                    continue  # a bad photo: the product is still a target, by its caption
            if images:
                t = photo_tokens(clip, images)
                ids += chunk
                patches.append(t.patches.half())
                vectors.append(t.vector)
        saved = {"ids": ids, "patches": torch.cat(patches), "vectors": torch.cat(vectors)}
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(saved, cache)
    photo_row = {pid: i for i, pid in enumerate(saved["ids"])}
    tkey = hashlib.sha1(("|".join(p.clip_caption() for p in products) + key).encode()).hexdigest()[:12]
    tcache = (cache_dir / f"fusion-targets-{tkey}.pt") if cache_dir else None
    if tcache and tcache.is_file():
        targets = torch.load(tcache, weights_only=True)
    else:
        targets = catalogue_vectors(clip, products, {pid: saved["vectors"][i] for pid, i in photo_row.items()})
        if tcache:
            torch.save(targets, tcache)
    target_row = {p.id: i for i, p in enumerate(products)}

    train_ids = [pid for pid in saved["ids"] if not is_validation(pid)]
    pairs = composed_pairs(products, train_ids, rng, cfg.pairs_per_photo)
    phrases = sorted({w for _, w, _ in pairs})
    wt = word_tokens(clip, phrases)
    phrase_row = {w: i for i, w in enumerate(phrases)}
    log(f"{len(pairs):,} composed pairs from {len(train_ids):,} training photos, {len(phrases)} phrasings")

    model = AttentionFusion(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # a step budget, where given, is the whole budget: a slower machine still makes every step
    deadline = float("inf") if cfg.max_steps is not None else time.time() + cfg.minutes * 60
    t0 = time.time()
    losses: list[float] = []
    step = 0
    model.train()
    bar = tqdm(desc="training attention fusion", unit="step", total=None)
    while time.time() < deadline and (cfg.max_steps is None or step < cfg.max_steps):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for s in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
            if time.time() >= deadline or (cfg.max_steps is not None and step >= cfg.max_steps):
                break
            batch = [pairs[j] for j in order[s : s + cfg.batch_size]]
            rows = torch.tensor([photo_row[a] for a, _, _ in batch])
            prow = torch.tensor([phrase_row[w] for _, w, _ in batch])
            q, state = model(saved["patches"][rows].float(), saved["vectors"][rows], wt.tokens[prow], wt.mask[prow], wt.vector[prow])
            logits = q @ targets.T / cfg.temperature  # [b, catalogue]
            own = torch.tensor([target_row[a] for a, _, _ in batch])
            logits = logits.index_put((torch.arange(len(batch)), own), torch.tensor(float("-inf")))
            pos = [rng.sample(b, min(len(b), cfg.max_positives)) for _, _, b in batch]
            width = max(len(x) for x in pos)
            pos_idx = torch.tensor([[target_row[i] for i in x] + [target_row[x[0]]] * (width - len(x)) for x in pos])
            pos_mask = torch.tensor([[True] * len(x) + [False] * (width - len(x)) for x in pos])
            pos_logits = logits.gather(1, pos_idx).masked_fill(~pos_mask, float("-inf"))
            contrastive = (torch.logsumexp(logits, 1) - torch.logsumexp(pos_logits, 1)).mean()
            # matching: one answer against the three highest-ranked non-answers
            with torch.no_grad():
                hard = logits.detach().clone()
                hard.scatter_(1, pos_idx, float("-inf"))
                negs = hard.topk(3, dim=1).indices
            cands = torch.cat([pos_idx[:, :1], negs], dim=1)
            m_logits = model.match(state, q, targets[cands])
            labels = torch.zeros_like(m_logits)
            labels[:, 0] = 1.0
            matching = functional.binary_cross_entropy_with_logits(m_logits, labels)
            loss = contrastive + cfg.match_weight * matching
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", gate=f"{float(model.gate.detach()):.3f}")
    bar.close()
    if not losses:
        raise AssistantError("attention fusion trained no step: give it more minutes or more photos")
    model.eval()
    report = FusionTrainReport(
        photos=len(train_ids),
        pairs=len(pairs),
        steps=step,
        minutes=(time.time() - t0) / 60,
        loss_first=float(np.mean(losses[:20])),
        loss_last=float(np.mean(losses[-20:])),
        gate=float(model.gate.detach()),
        config=asdict(cfg),
    )
    model.save(out, asdict(report))
    log(f"saved {out}: {step} steps in {report.minutes:.1f} min, loss {report.loss_first:.3f} -> {report.loss_last:.3f}")
    return report
