"""Search: a text and/or photo query → a ranked, explained list of products.

Owns the fusion modes (which ranked lists a query produces and how they combine), filter
relaxation and the explanation of each hit. The data flow of one query:

    understand(text) → filters + semantic text
    encode: bm25 terms, sentence vector, CLIP text vector, CLIP image vector, early-fused vector
    index: one ranked list per modality (prefetch per named vector), under the filters
    fuse: Qdrant's Query API (RRF, DBSF) or the pure functions of `fusion` (weighted)
    explain: per hit, the modalities that found it with rank and score, and the filters
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from PIL import Image

from assistant import stages
from assistant.catalogue.schema import Product
from assistant.clip.colour_reader import ColourReader
from assistant.clip.tokens import PhotoTokens, photo_tokens
from assistant.encoders.base import ImageEncoder, ImageTextEncoder, SparseEncoder, TextEncoder, l2_normalise
from assistant.encoders.batching import encode_soon
from assistant.encoders.framing import Framed, frame_product
from assistant.errors import QueryError
from assistant.index.base import Filters, Fusion, IndexHit, ProductIndex, VectorQuery
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, TEXT
from assistant.retrieval import composed
from assistant.retrieval import fusion as fz
from assistant.retrieval.attention import AttentionComposer
from assistant.retrieval.photo import PhotoView, photo_vector, reader_of, views
from assistant.retrieval.understanding import MAX_QUERY_CHARS, ParsedQuery, Vocabulary, parse_query

FusionMode = Literal["bm25", "text", "clip", "early", "late", "hybrid", "attention"]
FUSION_MODES: tuple[FusionMode, ...] = ("bm25", "text", "clip", "early", "late", "hybrid", "attention")
LateMethod = Literal["rrf", "dbsf", "weighted"]

# Filters are relaxed in this order when together they match nothing: the least
# essential constraint first.
RELAX_ORDER = ("season", "usage", "price", "in_stock", "colour", "brand", "exclude_brand", "article_type", "category", "gender")


# Best sentence-vector cosine (packaged all-MiniLM-L6-v2) under which a keyword-less query
# is taken as out of the catalogue's scope. Measured on the KAGL index: off-topic questions
# ("what's the weather", "do you sell cars", "pizza", "book a flight") top out at 0.22-0.36;
# product words without a keyword match ("sneakers", "hoodie", "kurta") at 0.53-0.70
# (`python benchmarks/probe_scope.py`).
WEAK_TEXT_SCORE = 0.40


@dataclass(frozen=True)
class FusionConfig:
    """Weights and depths of the fusion modes (the defaults were tuned on the dev query set)."""

    candidates: int = 100  # depth of each modality's ranked list
    rrf_k: int = 60  # late mode's RRF constant
    early_image_weight: float = 0.7  # photo share of the joint photo+text query vector
    # Hybrid mode: which lists, with what weight, fused how. A text query's lists search
    # with the text's vectors; a photo query's (with or without words) with the early-fused
    # joint vector, since the words of a photo query modify the photo ("but in black").
    # Chosen on benchmarks/queries/kagl-dev.jsonl (a grid over lists, weights, RRF k, DBSF
    # and weighted sums); the sentence vector leads for words, the fused vector for photos,
    # and weighted score fusion beat RRF there because RRF's weights barely act at k=60.
    hybrid_text_lists: Mapping[str, float] = field(default_factory=lambda: {TEXT: 3.0, FUSED: 1.0, BM25: 0.5})
    hybrid_photo_lists: Mapping[str, float] = field(default_factory=lambda: {FUSED: 3.0, IMAGE: 1.0, CLIP_TEXT: 1.0})
    hybrid_method: LateMethod = "weighted"
    hybrid_rrf_k: int = 60
    # How a query photo is read (`retrieval.photo`): the photo itself plus these views, averaged.
    # A photo query: the head of its list votes on what the photo shows (its kind, gender,
    # colour: `fusion.head_vote`; any other payload field by its name) and every hit of the
    # voted values gains, for each attribute the words did not already set as a filter; a
    # weight of 0 turns an attribute's vote off. Chosen on the photo hold-out's dev half
    # (`benchmarks/bench_photo.py --set dev`): precision@10 by type 0.856 -> 0.893 for studio
    # photos, 0.639 -> 0.702 for shoppers' photos (on a wall, at a slant, cropped, off a screen);
    # the mirror view added nothing there; gender and colour votes gained nothing on the
    # composed dev set (`benchmarks/bench_composed.py`), so they are off.
    photo_views: tuple[PhotoView, ...] = ("framed",)
    photo_votes: Mapping[str, float] = field(default_factory=lambda: {"kind": 1.0, "gender": 0.0, "colour": 0.0})
    photo_vote_depth: int = 10
    # The mode a photo with words runs in when hybrid (the default) is asked and the attention
    # model is there. On the composed dev set (`benchmarks/bench_composed.py --set dev`, 464
    # photo + words queries) attention scored 0.881 precision@10 by type / 0.715 nDCG@10 against
    # hybrid's 0.807 / 0.510 (both with the kind vote). "hybrid" keeps early fusion.
    photo_words_fusion: FusionMode = "attention"
    # A photo with words keeps the photo's traits the words do not change (`retrieval.composed`):
    # these tiers, in this order (empty: off, and the head's vote above acts instead); the
    # photo's traits are read from its own top `photo_reading_depth` neighbours (colour from the
    # top `photo_colour_depth`) and, for the kind, the fused list's head at the given weight.
    # On the composed dev set (464 queries) the tiers took attention + kind vote from 0.881
    # precision@10 by type / 0.715 nDCG@10 to 0.904 / 0.841 (`benchmarks/bench_composed.py`).
    photo_words_keep: tuple[composed.Trait, ...] = composed.TRAITS
    photo_reading_depth: int = 10
    photo_colour_depth: int = 5
    photo_reading_fused_weight: float = 0.5
    # The colour reader's share in the photo's colour (`clip.colour_reader`, where it is loaded):
    # on the composed dev set's 265 queries that keep the photo's colour the neighbours alone
    # read it right 66% of the time, with the reader at 0.7 71%; nDCG@10 0.841 -> 0.847
    # (`benchmarks/bench_composed.py --set dev`; 0.5 and 1.0 were within 0.002 in a probe).
    photo_colour_reader_weight: float = 0.7
    # Where the fused list holds fewer than a page of the photo's kind ("this in blue" above
    # trousers: the fused vector's head is blue jeans and track pants), the same lists are
    # searched again within that kind and fill the kind's tier below what the list held. On the
    # composed dev set: 0.902 / 0.847 -> 0.913 / 0.853 (usage changes 0.904 -> 0.965 precision);
    # no p50 cost, the search runs for a minority of queries. The same fill within the kind and
    # the photo's colour changed nothing there.
    photo_kind_fill: bool = True


@dataclass(frozen=True)
class _PhotoRead:
    """A query photo read once (`Retriever._read_photo`)."""

    vector: np.ndarray  # unit length: the mean of its views' vectors
    tokens: PhotoTokens | None  # the photo as sent, its patches and vector (attention mode only)
    framed: Framed | None  # its framing, where one was made


@dataclass
class SearchRequest:
    """A query: text, a photo, or both; optional explicit filters merged with understood ones."""

    text: str | None = None
    image: Image.Image | None = None
    filters: Filters | None = None
    fusion: FusionMode = "hybrid"
    late_method: LateMethod | None = None  # None: the mode's default (late: rrf; hybrid: configured)
    k: int = 10
    understand: bool = True
    relax: bool = True
    # A photo already encoded by the catalogue CLIP's image tower (a clip's item: the mean of
    # its frames' vectors), searched as `image` would be.
    image_vector: np.ndarray | None = None
    # The lists a photo searches, with their weights (default: the config's hybrid photo lists).
    # Finding the very product filmed wants the photo-to-photo list alone: {"image": 1.0}.
    photo_lists: Mapping[str, float] | None = None
    # Whether a photo query's list votes on what the photo shows (`FusionConfig.photo_votes`).
    # Finding the very product filmed does not want it: the vote favours a kind, not a product.
    vote: bool = True
    # True: run exactly `fusion` (benchmarks comparing modes). False: hybrid hands a photo with
    # words to the mode that does best with them (`FusionConfig.photo_words_fusion`).
    pinned: bool = False

    @property
    def has_photo(self) -> bool:
        return self.image is not None or self.image_vector is not None


@dataclass(frozen=True)
class Evidence:
    """One modality's vote for a hit: its list, the rank there (1-based) and raw score."""

    modality: str
    rank: int
    score: float


@dataclass
class Hit:
    """A ranked product with its explanation."""

    rank: int
    product_id: str
    name: str
    score: float
    product: Product
    evidence: list[Evidence]
    point_id: str

    def explain(self) -> str:
        found = ", ".join(f"{e.modality} #{e.rank} ({e.score:.3f})" for e in self.evidence) or "no single modality"
        return f"found by {found}"


@dataclass
class SearchResponse:
    """Hits and how they were obtained."""

    hits: list[Hit]
    query_text: str | None
    fusion: FusionMode
    filters_applied: list[str]
    filters_relaxed: list[str]
    understood: list[dict[str, str]]
    timings_ms: dict[str, float]
    total_matching: int | None = None

    def weak_match(self) -> bool:
        """True when the catalogue probably has nothing like a text query ("pizza", "the
        weather"): no keyword of it occurs in any product, and the sentence vector's best
        cosine is below `WEAK_TEXT_SCORE`. Photo queries are never weak."""
        text_scores = [e.score for h in self.hits for e in h.evidence if e.modality == "text"]
        keyword = any(e.modality == "bm25" for h in self.hits for e in h.evidence)
        return bool(text_scores) and not keyword and max(text_scores) < WEAK_TEXT_SCORE

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query_text,
            "fusion": self.fusion,
            "filters_applied": self.filters_applied,
            "filters_relaxed": self.filters_relaxed,
            "understood": self.understood,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "hits": [
                {
                    "rank": h.rank,
                    "id": h.product_id,
                    "name": h.name,
                    "score": round(h.score, 6),
                    "brand": h.product.brand,
                    "category": h.product.category,
                    "colour": h.product.colour,
                    "gender": h.product.gender,
                    "price": h.product.price,
                    "image": str(h.product.image) if h.product.image else None,
                    "explanation": {
                        "modalities": [{"modality": e.modality, "rank": e.rank, "score": round(e.score, 6)} for e in h.evidence],
                        "filters": self.filters_applied,
                        "filters_relaxed": self.filters_relaxed,
                    },
                }
                for h in self.hits
            ],
        }


def product_from_payload(payload: Mapping[str, Any]) -> Product:
    """The catalogue fields of a point's payload, as a `Product`."""
    fields = {k: payload.get(k) for k in Product.model_fields if k in payload}
    fields["id"] = payload["product_id"]
    return Product.model_validate(fields)


def merge_filters(a: Filters, b: Filters | None) -> Filters:
    """Both sets of restrictions: lists united, `b`'s single values winning over `a`'s."""
    if b is None:
        return a
    out = Filters()
    for name in Filters.__dataclass_fields__:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, list):
            setattr(out, name, list(dict.fromkeys([*va, *vb])))
        else:
            setattr(out, name, vb if vb is not None else va)
    return out


def _said(filters: Filters) -> set[str]:
    """Which of a photo's traits (kind, gender, colour) the words already set as a filter."""
    return {t for t, on in (("kind", filters.article_type or filters.category), ("gender", filters.gender), ("colour", filters.colour)) if on}


def _append(
    candidates: list[fz.Fused],
    found: Sequence[tuple[str, Mapping[str, tuple[int, float]]]],
    found_payloads: Mapping[str, Mapping[str, Any]],
    payloads: dict[str, Mapping[str, Any]],
) -> None:
    """Hits found beside the fused list join its end, in their own order, at its lowest score
    (the tiers of `retrieval.composed` place them; within a tier the fused list's own stay first)."""
    have = {f.id for f in candidates}
    floor = min((f.score for f in candidates), default=0.0)
    for pid, sources in found:
        if pid not in have:
            have.add(pid)
            payloads[pid] = found_payloads[pid]
            candidates.append(fz.Fused(pid, floor, dict(sources)))


def _without(filters: Filters, name: str) -> Filters:
    out = Filters(**{k: (list(v) if isinstance(v, list) else v) for k, v in filters.__dict__.items()})
    if name == "price":
        out.price_min = out.price_max = None
    elif isinstance(getattr(out, name), list):
        setattr(out, name, [])
    else:
        setattr(out, name, None)
    return out


class Retriever:
    """Runs `SearchRequest`s against one collection of an index."""

    def __init__(
        self,
        index: ProductIndex,
        collection_name: str,
        clip: ImageTextEncoder,
        text: TextEncoder,
        sparse: SparseEncoder,
        config: FusionConfig | None = None,
        engine_fusion: bool = True,
        attention: AttentionComposer | None = None,
        colour_reader: ColourReader | None = None,
        photo_tower: ImageEncoder | None = None,
    ) -> None:
        self.index = index
        self.collection_name = collection_name
        self.clip = clip
        self.text = text
        self.sparse = sparse
        self.config = config or FusionConfig()
        # RRF and DBSF run in Qdrant's Query API (prefetch + fusion) unless this is off, in
        # which case the pure functions of `fusion` compute the same ranking here.
        self.engine_fusion = engine_fusion
        # Reads a photo's colour for a photo with words (`retrieval.composed`); None: the photo's
        # neighbours alone read it.
        self.colour_reader = colour_reader
        # The `attention` mode's model (photo + words read together); None: the mode is refused.
        self.attention = attention
        # Reads shoppers' photos (not studio shots) into the CLIP's space (`clip.photo_tower`);
        # None: the CLIP reads every photo.
        self.photo_tower = photo_tower
        self._vocab: Vocabulary | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            self._vocab = Vocabulary.from_index(self.index, self.collection_name)
        return self._vocab

    def require_collection(self) -> None:
        """Fail early, naming what exists, when the catalogue was never ingested."""
        if not self.index.collection_exists(self.collection_name):
            from assistant.errors import CollectionNotFound

            raise CollectionNotFound(
                f"collection {self.collection_name!r} not found; existing: {self.index.list_collections() or 'none'} "
                f"(run `shop-assistant ingest` first)"
            )

    def refresh_vocabulary(self) -> None:
        self._vocab = None

    def products(self, product_ids: list[str]) -> dict[str, Product]:
        """The catalogue's products by id (unknown ids are absent from the result)."""
        from assistant.catalogue.schema import point_id

        hits = self.index.retrieve(self.collection_name, [point_id(self.collection_name, i) for i in product_ids])
        found = {h.payload["product_id"]: product_from_payload(h.payload) for h in hits}
        return {i: found[i] for i in product_ids if i in found}

    # -- stages -----------------------------------------------------------------------

    def understand(self, req: SearchRequest) -> ParsedQuery | None:
        if req.text is None or not req.text.strip():
            if not req.has_photo:
                raise QueryError("the query is empty: give text, a photo, or both")
            return None
        if len(req.text) > MAX_QUERY_CHARS:
            raise QueryError(f"the query is {len(req.text):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
        if not req.understand:
            return ParsedQuery(text=req.text.strip(), filters=Filters())
        return parse_query(req.text, self.vocabulary)

    def _lists(self, req: SearchRequest, text: str | None, read: _PhotoRead | None = None) -> dict[str, VectorQuery]:
        """The ranked lists (prefetches) a fusion mode asks for, with their query vectors."""
        c = self.config
        mode = req.fusion
        if mode == "attention":
            return self._attention_lists(req, read)
        wanted: set[str] = {
            "bm25": {BM25},
            "text": {TEXT},
            "clip": {IMAGE, CLIP_TEXT},
            "early": {FUSED},
            "late": {BM25, TEXT, IMAGE, CLIP_TEXT},
            "hybrid": set(c.hybrid_text_lists) | set(c.hybrid_photo_lists),
        }[mode]
        if text is None:
            wanted -= {BM25, TEXT}
            if mode in ("bm25", "text"):
                raise QueryError(f"fusion mode {mode!r} needs query text; a photo alone needs clip, early, late or hybrid")
        # The text encoder's rows are started first so that they are made beside the CLIP's.
        text_needed = text is not None and TEXT in wanted and not (mode == "hybrid" and req.has_photo)
        text_rows = encode_soon(self.text, [text]) if text is not None and text_needed else None
        clip_t = self.clip.encode_text([text])[0] if text is not None and wanted & {IMAGE, CLIP_TEXT, FUSED} else None
        clip_i = req.image_vector
        if clip_i is None and req.image is not None:
            clip_i = self._photo_vector(req.image)
        primary = clip_i if clip_i is not None else clip_t
        early: np.ndarray | None = None
        if FUSED in wanted or (mode in ("clip", "hybrid") and clip_i is not None and clip_t is not None):
            if clip_i is not None and clip_t is not None:
                early = fz.early_fuse([clip_i, clip_t], [c.early_image_weight, 1 - c.early_image_weight])
            else:
                early = primary
        out: dict[str, VectorQuery] = {}
        n = c.candidates
        if mode == "hybrid":
            if clip_i is not None:
                assert early is not None
                return self._photo_lists(req, early)
            wanted = set(c.hybrid_text_lists)
            if text is None:
                raise QueryError("a hybrid query needs text or a photo")
            if wanted & {IMAGE, CLIP_TEXT, FUSED} and clip_t is None:
                clip_t = self.clip.encode_text([text])[0]
            for name in (IMAGE, CLIP_TEXT, FUSED):
                if name in wanted:
                    assert clip_t is not None
                    out[name] = VectorQuery(name, clip_t.tolist(), n)
        if BM25 in wanted and text is not None:
            sv = self.sparse.encode_query(text)
            if sv.indices:  # a query of stop words only has no terms
                out[BM25] = VectorQuery(BM25, sv, n)
        if TEXT in wanted and text is not None:
            out[TEXT] = VectorQuery(TEXT, (text_rows or encode_soon(self.text, [text]))()[0].tolist(), n)
        if mode == "clip":
            q = early if early is not None else primary
            assert q is not None
            out[IMAGE] = VectorQuery(IMAGE, q.tolist(), n)
            out[CLIP_TEXT] = VectorQuery(CLIP_TEXT, q.tolist(), n)
        else:
            if IMAGE in wanted and primary is not None:
                out[IMAGE] = VectorQuery(IMAGE, primary.tolist(), n)
            if CLIP_TEXT in wanted:
                # Late fusion keeps modalities apart: with a photo and text, the caption list
                # follows the text and the photo list the photo.
                q = clip_t if clip_t is not None else clip_i
                assert q is not None
                out[CLIP_TEXT] = VectorQuery(CLIP_TEXT, q.tolist(), n)
            if FUSED in wanted and early is not None:
                out[FUSED] = VectorQuery(FUSED, early.tolist(), n)
        return out

    def _photo_vector(self, image: Image.Image) -> np.ndarray:
        c = self.config
        if not c.photo_views and self.photo_tower is None:
            return self.clip.encode_image([image])[0]
        return photo_vector(self.clip, image, c.photo_views, tower=self.photo_tower)

    def _read_photo(self, image: Image.Image, with_tokens: bool) -> _PhotoRead:
        """A photo with words, read once: its framing is made once for the views and the colour
        reader. `with_tokens` (attention mode): its views' tokens in one pass of the image tower
        give both its vector (the mean of the views', as `_photo_vector` reads it) and the
        photo's own patches the attention model reads."""
        c = self.config
        wants_framing = "framed" in c.photo_views or self.colour_reader is not None or self.photo_tower is not None
        framed = frame_product(image) if wants_framing else None
        if not with_tokens:
            return _PhotoRead(photo_vector(self.clip, image, c.photo_views, framed, self.photo_tower), None, framed)
        assert self.attention is not None
        tokens = photo_tokens(self.attention.clip, views(image, c.photo_views, framed))
        vector = l2_normalise(tokens.vector.double().sum(dim=0).numpy())
        if framed is not None and reader_of(self.clip, self.photo_tower, framed) is not self.clip:
            # the attention model reads the CLIP's patches; the photo's own lists, its tower's vector
            vector = photo_vector(self.clip, image, c.photo_views, framed, self.photo_tower)
        return _PhotoRead(vector, PhotoTokens(tokens.patches[:1], tokens.vector[:1]), framed)

    def _attention_lists(self, req: SearchRequest, read: _PhotoRead | None = None) -> dict[str, VectorQuery]:
        """The photo lists of hybrid mode, searched with the attention-fused vector (`read`: the
        photo's tokens, where `_read_photo` read them)."""
        if self.attention is None:
            raise QueryError("the attention fusion mode needs its trained model (`shop-assistant train-fusion`); choose another mode")
        if req.image is None or not (req.text or "").strip():
            raise QueryError("the attention fusion mode reads a photo and words together: send both, or choose another mode")
        # The whole words, not the understood remainder: the model learned "in red" with its colour.
        return self._photo_lists(req, self.attention.query(req.image, req.text.strip(), read.tokens if read is not None else None))

    def _photo_lists(self, req: SearchRequest, vector: np.ndarray) -> dict[str, VectorQuery]:
        """A photo query's lists: its vector (early- or attention-fused) in each photo list.

        The leftover words as a keyword list beside them were tried ("this in leather": KAGL has
        no material field): on the composed dev set, at 0.5 of the photo lists' 5 it changed
        nothing, at 3 it cost 0.02 precision by type and found no more leather. They pay as a
        tier within the photo's kind instead (`_keep_photo`, `retrieval.composed`)."""
        c = self.config
        return {name: VectorQuery(name, vector.tolist(), c.candidates) for name in (req.photo_lists or c.hybrid_photo_lists)}

    def _query_lists(self, lists: Mapping[str, VectorQuery], qfilter: Filters | None) -> dict[str, list[IndexHit]]:
        """Each list's hits, one index query per list (fused here, not in the engine)."""
        return {name: self.index.query(self.collection_name, [q], None, qfilter, q.limit) for name, q in lists.items()}

    def _vote(self, fused: list[fz.Fused], payloads: Mapping[str, Mapping[str, Any]], filters: Filters) -> list[fz.Fused]:
        """The head's vote on a photo's kind, gender and colour, each unless the words set it."""
        c = self.config
        said = _said(filters)
        attributes: dict[str, tuple[dict[str, str | None], float]] = {}
        for name, weight in c.photo_votes.items():
            if weight <= 0 or name in said:
                continue
            if name == "kind":
                values = {f.id: (payloads[f.id].get("category_path") or [None])[-1] for f in fused}
            else:
                # a field that is not one text per product (a list, a number) cannot be voted on
                values = {f.id: v if isinstance(v := payloads[f.id].get(name), str) else None for f in fused}
            attributes[name] = (values, weight)
        return fz.head_vote(fused, attributes, c.photo_vote_depth)[0] if attributes else fused

    def _keep_photo(
        self,
        req: SearchRequest,
        parsed: ParsedQuery,
        asked: Filters,
        filters: Filters,
        fused: list[fz.Fused],
        payloads: dict[str, Mapping[str, Any]],
        lists: Mapping[str, VectorQuery],
        page: int,
        read: _PhotoRead | None = None,
    ) -> list[fz.Fused]:
        """A photo with words: the fused list re-ranked to keep the photo's traits that the words
        (`asked`, before any relaxation) do not change, and to favour the added words that
        became no filter, found by keyword among the photo's kind too (`retrieval.composed`);
        where the list holds less than a `page` of the photo's kind, `lists` searched within the
        kind fill it. Adds the new hits' payloads to `payloads`."""
        c = self.config
        assert req.image_vector is not None
        # The photo alone, with the shopper's own restrictions only (not the words'): its
        # neighbours, as a photo alone is answered (the hybrid photo lists, weighted, voted on).
        own = req.filters if req.filters is not None and not req.filters.is_empty() else None
        hits = self._query_lists(self._photo_lists(replace(req, photo_lists=None), req.image_vector), own)
        near = {h.id: h.payload for found in hits.values() for h in found}
        ranked = fz.weighted({name: [fz.Ranked(h.id, h.score) for h in found] for name, found in hits.items()}, dict(c.hybrid_photo_lists))
        ranked = self._vote(ranked, near, own or Filters())
        said = _said(asked)
        colours = None
        if self.colour_reader is not None and req.image is not None and "colour" not in said and "colour" in c.photo_words_keep:
            colours = self.colour_reader.probabilities(req.image_vector, req.image, read.framed if read else None)
        reading = composed.read_photo(
            [near[f.id] for f in ranked],
            [payloads[f.id] for f in fused[: c.photo_reading_depth]],
            depth=c.photo_reading_depth,
            fused_weight=c.photo_reading_fused_weight,
            colour_depth=c.photo_colour_depth,
            colour_read=colours,
            colour_read_weight=c.photo_colour_reader_weight,
        )
        words = composed.asked_words(req.text or "", [m.phrase for m in parsed.matches]) if "words" in c.photo_words_keep else []
        candidates = list(fused)
        kind_field = composed.FIELDS["kind"]
        if (
            c.photo_kind_fill
            and "kind" in c.photo_words_keep
            and "kind" not in said
            and reading.kind
            and sum(payloads[f.id].get(kind_field) == reading.kind for f in fused) < page
        ):
            within = merge_filters(filters, Filters(article_type=[reading.kind]))
            hits = self._query_lists({n: replace(q, limit=max(q.limit, page)) for n, q in lists.items()}, within)
            weights = req.photo_lists or c.hybrid_photo_lists
            ranked = {name: [fz.Ranked(h.id, h.score) for h in found] for name, found in hits.items()}
            more = fz.weighted(ranked, {n: weights.get(n, 1.0) for n in hits})
            _append(candidates, [(f.id, f.sources) for f in more], {h.id: h.payload for found in hits.values() for h in found}, payloads)
        if words:
            # The added words by keyword within the photo's kind: "this in leather" finds leather
            # shoes a fused vector ranked too far down to be among the candidates.
            sv = self.sparse.encode_query(" ".join(words))
            if sv.indices:
                scope = filters if "kind" in said or not reading.kind else merge_filters(filters, Filters(article_type=[reading.kind]))
                found = self.index.query(self.collection_name, [VectorQuery(BM25, sv, c.candidates)], None, scope, c.candidates)
                _append(candidates, [(h.id, {BM25: (rank, h.score)}) for rank, h in enumerate(found, 1)], {h.id: h.payload for h in found}, payloads)
        return composed.keep_photo(candidates, payloads, reading, said, words, c.photo_words_keep)

    def _relax(self, filters: Filters, enabled: bool) -> tuple[Filters, list[str], int]:
        total = self.index.count(self.collection_name, filters)
        if total > 0 or not enabled or filters.is_empty():
            return filters, [], total
        relaxed: list[str] = []
        current = filters
        for name in RELAX_ORDER:
            if name == "price":
                if current.price_min is None and current.price_max is None:
                    continue
            elif not getattr(current, name):
                continue
            before = set(current.describe())
            current = _without(current, name)
            relaxed.extend(sorted(before - set(current.describe())))
            total = self.index.count(self.collection_name, current)
            if total > 0:
                break
        return current, relaxed, total

    # -- the whole query ------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchResponse:
        if req.k < 1 or req.k > 1000:
            raise QueryError(f"k must be between 1 and 1000, not {req.k}")
        if req.fusion not in FUSION_MODES:
            raise QueryError(f"unknown fusion mode {req.fusion!r}; choose one of {list(FUSION_MODES)}")
        t0 = time.perf_counter()
        c = self.config
        if req.fusion == "hybrid" and not req.pinned and req.image is not None and (req.text or "").strip() and self.attention is not None:
            req = replace(req, fusion=c.photo_words_fusion)  # the response says which mode ran
        parsed = self.understand(req)
        filters = merge_filters(parsed.filters if parsed else Filters(), req.filters)
        keep = bool(c.photo_words_keep) and req.vote and req.has_photo and parsed is not None and req.fusion in ("hybrid", "attention")
        read: _PhotoRead | None = None
        if req.image is not None and req.image_vector is None and keep:
            # read once: the lists, the attention model and the photo's traits
            read = self._read_photo(req.image, with_tokens=req.fusion == "attention" and self.attention is not None)
            req = replace(req, image_vector=read.vector)
        elif req.image is not None and req.image_vector is None and req.fusion != "attention":
            req = replace(req, image_vector=self._photo_vector(req.image))
        asked = filters
        if filters.price_min is not None and filters.price_max is not None and filters.price_min > filters.price_max:
            raise QueryError(f"the price range is empty: minimum {filters.price_min:g} is above maximum {filters.price_max:g}")
        t1 = time.perf_counter()
        filters, relaxed, total = self._relax(filters, req.relax)
        t2 = time.perf_counter()
        lists = self._lists(req, parsed.text if parsed else None, read)
        t3 = time.perf_counter()
        qfilter = None if filters.is_empty() else filters
        limit = max(req.k, 50) if parsed and parsed.sort else req.k
        per_list = self._query_lists(lists, qfilter)
        ranked = {name: [fz.Ranked(h.id, h.score) for h in hits] for name, hits in per_list.items()}
        payloads = {h.id: h.payload for hits in per_list.values() for h in hits}
        if req.fusion in ("hybrid", "attention"):
            weights = (req.photo_lists or c.hybrid_photo_lists) if req.has_photo else c.hybrid_text_lists
            method, rrf_k = req.late_method or c.hybrid_method, c.hybrid_rrf_k
        else:
            weights, method, rrf_k = {}, req.late_method or "rrf", c.rrf_k
        w = {name: weights.get(name, 1.0) for name in lists}
        uniform = all(v == 1.0 for v in w.values())
        if len(lists) == 1:
            name = next(iter(lists))
            fused = [fz.Fused(r.id, r.score, {name: (i, r.score)}) for i, r in enumerate(ranked[name], 1)]
        elif method == "weighted":
            fused = fz.weighted(ranked, w)
        elif self.engine_fusion and (method == "rrf" or uniform):
            # Qdrant's Query API: prefetch per named vector + fusion, in one request.
            engine_hits = self.index.query(
                self.collection_name,
                list(lists.values()),
                Fusion(method=method, k=rrf_k, weights=None if uniform else tuple(w[n] for n in lists)),
                qfilter,
                limit,
            )
            srcs = fz.sources(ranked)
            payloads.update({h.id: h.payload for h in engine_hits})
            fused = [fz.Fused(h.id, h.score, srcs.get(h.id, {})) for h in engine_hits]
        elif method == "dbsf":
            fused = fz.dbsf(ranked, w)  # weighted DBSF: Qdrant's has no weights
        else:
            fused = fz.rrf(ranked, k=rrf_k, weights=w)
        if keep:
            assert parsed is not None
            fused = self._keep_photo(req, parsed, asked, filters, fused, payloads, lists, limit, read)
        elif req.fusion in ("hybrid", "attention") and req.has_photo and req.vote:
            fused = self._vote(fused, payloads, filters)
        fused = fused[:limit]
        t4 = time.perf_counter()
        products = [(f, product_from_payload(payloads[f.id])) for f in fused]
        if parsed and parsed.sort and any(p.price is not None for _, p in products):
            rev = parsed.sort == "price_desc"
            products.sort(key=lambda fp: (fp[1].price is None, -(fp[1].price or 0) if rev else (fp[1].price or 0)))
        hits = [
            Hit(
                rank=i,
                product_id=p.id,
                name=p.name,
                score=f.score,
                product=p,
                evidence=sorted((Evidence(m, r, s) for m, (r, s) in f.sources.items()), key=lambda e: e.rank),
                point_id=f.id,
            )
            for i, (f, p) in enumerate(products[: req.k], 1)
        ]
        t5 = time.perf_counter()
        stages.record("encode", t3 - t2)
        stages.record("index", (t2 - t1) + (t4 - t3))  # the relaxation's counts are index queries too
        return SearchResponse(
            hits=hits,
            query_text=parsed.text if parsed else None,
            fusion=req.fusion,
            filters_applied=filters.describe(),
            filters_relaxed=relaxed,
            understood=[{"phrase": m.phrase, "field": m.field, "value": m.value} for m in (parsed.matches if parsed else [])],
            timings_ms={
                "understand": (t1 - t0) * 1e3,
                "filters": (t2 - t1) * 1e3,
                "encode": (t3 - t2) * 1e3,
                "index": (t4 - t3) * 1e3,
                "total": (t5 - t0) * 1e3,
            },
            total_matching=total,
        )
