"""Real models, real engine: a slice of KAGL ingested into a temporary embedded index."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from assistant.catalogue.loader import load_catalogue
from assistant.config import Settings
from assistant.errors import CollectionNotFound, ImageError, QueryError
from assistant.index.base import Filters
from assistant.index.edge import EdgeIndex
from assistant.ingest import ingest_catalogue
from assistant.retrieval.search import Retriever, SearchRequest
from assistant.runtime import load_encoders
from tests.kagl_subset import write_subset

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def encoders():
    return load_encoders(Settings())


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, kagl_csv, encoders):
    d = tmp_path_factory.mktemp("kagl")
    csv_path, rows = write_subset(kagl_csv, d / "subset.csv", per_type=30, corrupt=2)
    index = EdgeIndex(d / "index")
    cat = load_catalogue(csv_path)
    report = ingest_catalogue(cat, index, "kagl", encoders, "test", batch_size=32, progress=False)
    retriever = Retriever(index, "kagl", encoders.clip, encoders.text, encoders.sparse)
    yield retriever, report, cat, rows
    index.close()


def test_ingest_reports_bad_photos_and_still_indexes_their_products(indexed):
    retriever, report, cat, _ = indexed
    assert report.indexed == len(cat.products) == 242
    assert report.images_bad == 2
    assert sum("image skipped" in i.reason for i in report.issues) == 2
    broken = retriever.index.count("kagl", Filters(product_ids=["9000000", "9000001"]))
    assert broken == 2, "products with broken photos are searchable by text"
    assert retriever.index.count("kagl", Filters(product_ids=["9000000"], has_image=True)) == 0


def test_reingest_is_idempotent(indexed, encoders):
    retriever, _, cat, _ = indexed
    again = ingest_catalogue(cat, retriever.index, "kagl", encoders, "test", batch_size=32, progress=False)
    assert again.indexed == 0 and again.unchanged == len(cat.products)
    assert retriever.index.count("kagl") == len(cat.products)


def test_black_sandals_for_men(indexed):
    retriever, *_ = indexed
    resp = retriever.search(SearchRequest(text="black sandals for men", k=5))
    assert resp.hits
    for h in resp.hits:
        assert h.product.category == "Sandals"
        assert h.product.colour == "Black"
        assert h.product.gender in ("Men", "Unisex")
    assert "colour is black" in resp.filters_applied


def test_photo_of_a_watch_returns_watches(indexed, kagl_csv):
    retriever, _, _, rows = indexed
    watch = next(r for r in rows if r["article_type"] == "Watches" and r["image"])
    img = Image.open(watch["image"]).convert("RGB")
    resp = retriever.search(SearchRequest(image=img, filters=Filters(exclude_product_ids=[watch["id"]]), k=10))
    types = [h.product.category for h in resp.hits]
    assert types.count("Watches") >= 9, types
    assert watch["id"] not in [h.product_id for h in resp.hits]
    assert all(h.evidence for h in resp.hits), "every hit says which modality found it"


def test_photo_plus_text_moves_towards_the_text(indexed):
    retriever, _, _, rows = indexed
    shoe = next(r for r in rows if r["article_type"] == "Sports Shoes" and r["image"] and r["base_colour"] != "Black")
    img = Image.open(shoe["image"]).convert("RGB")
    resp = retriever.search(SearchRequest(image=img, text="but in black", k=5))
    assert [h.product.colour for h in resp.hits].count("Black") >= 4
    assert all(h.product.category in ("Sports Shoes", "Casual Shoes") for h in resp.hits)


@pytest.mark.parametrize("mode", ["bm25", "text", "clip", "early", "late", "hybrid"])
def test_every_fusion_mode_answers_a_text_query(indexed, mode):
    retriever, *_ = indexed
    resp = retriever.search(SearchRequest(text="analog wrist watch", fusion=mode, k=5))
    assert [h.product.category for h in resp.hits].count("Watches") >= 4
    assert resp.fusion == mode


def test_filters_that_match_nothing_are_relaxed_and_said(indexed):
    retriever, *_ = indexed
    resp = retriever.search(SearchRequest(text="black sandals for men under 20", k=5))
    assert resp.hits
    assert "price <= 20" in resp.filters_relaxed  # KAGL has no prices
    assert "price <= 20" not in resp.filters_applied


def test_explanation_is_in_the_json(indexed):
    retriever, *_ = indexed
    d = retriever.search(SearchRequest(text="red tshirt", k=3)).to_dict()
    mods = d["hits"][0]["explanation"]["modalities"]
    assert mods and {"modality", "rank", "score"} <= set(mods[0])
    assert d["hits"][0]["explanation"]["filters"] == d["filters_applied"]


@pytest.mark.parametrize(
    "payload",
    [b"", b"this is not an image", b"\xff\xd8\xff\xe0\x00\x10JFIF truncated", "truncated-png"],
)
def test_bad_images_are_typed_errors_and_leave_the_index_intact(indexed, payload):
    from assistant.encoders.images import load_image

    retriever, _, cat, _ = indexed
    if payload == "truncated-png":
        buf = io.BytesIO()
        Image.new("RGB", (300, 300), "red").save(buf, "PNG")
        payload = buf.getvalue()[:200]
    with pytest.raises(ImageError):
        load_image(payload)
    assert retriever.index.count("kagl") == len(cat.products)


def test_a_50_megapixel_image_is_refused(tmp_path):
    from assistant.encoders.images import load_image

    p = tmp_path / "huge.png"
    Image.new("1", (10_000, 5_000)).save(p)  # 50 MP, 1-bit: small file
    with pytest.raises(ImageError, match="megapixel"):
        load_image(p)


@pytest.mark.parametrize("text", ["", "   ", "x" * 10_000])
def test_bad_queries_are_typed_errors(indexed, text):
    retriever, *_ = indexed
    with pytest.raises(QueryError):
        retriever.search(SearchRequest(text=text))


def test_price_min_above_max_is_a_typed_error(indexed):
    retriever, *_ = indexed
    with pytest.raises(QueryError, match="price"):
        retriever.search(SearchRequest(text="shoes", filters=Filters(price_min=50, price_max=10)))


def test_unknown_collection(indexed, encoders):
    retriever, *_ = indexed
    other = Retriever(retriever.index, "nope", encoders.clip, encoders.text, encoders.sparse)
    with pytest.raises(CollectionNotFound, match="nope"):
        other.search(SearchRequest(text="shoes"))


def test_tools_over_the_real_index(indexed, tmp_path):
    from tools.context import ToolContext
    from tools.registry import ToolError, call_tool

    retriever, _, _, rows = indexed
    ctx = ToolContext(retriever)
    watch = next(r for r in rows if r["article_type"] == "Watches" and r["image"])
    card = call_tool(ctx, "get_product", {"product_id": watch["id"]})
    assert card.name == watch["name"] and card.category == "Watches"
    similar = call_tool(ctx, "similar_products", {"product_id": watch["id"], "k": 5})
    assert watch["id"] not in [p.id for p in similar.products]
    assert sum(p.category == "Watches" for p in similar.products) >= 4
    two = [r["id"] for r in rows if r["article_type"] == "Sandals"][:2]
    cmp = call_tool(ctx, "compare_products", {"product_ids": two})
    assert cmp.same["category"] == "Sandals" and [c.id for c in cmp.products] == two
    facets = call_tool(ctx, "get_facets", {"field": "brand", "query": "watches for men"})
    counts = [v.count for v in facets.values]
    assert counts and counts == sorted(counts, reverse=True)
    assert 0 < sum(counts) <= facets.total == retriever.index.count("kagl", Filters(category=["watches"], gender=["men", "unisex"]))
    found = call_tool(ctx, "search_products", {"query": "black sandals for men", "k": 3})
    assert all(p.category == "Sandals" for p in found.products)
    import base64

    err = call_tool(ctx, "search_by_photo", {"image": base64.b64encode(b"not an image").decode()})
    assert isinstance(err, ToolError) and "not an image" in err.error
    err = call_tool(ctx, "search_by_photo", {"image": "/etc/passwd"})
    assert isinstance(err, ToolError) and "base64" in err.error, "a path is not read from the server's disk"
    sandal = next(r for r in rows if r["article_type"] == "Sandals" and r["image"])
    photo = base64.b64encode(open(sandal["image"], "rb").read()).decode()
    kept = call_tool(ctx, "search_by_photo", {"image": photo, "text": "but in black", "k": 3})
    assert all("photo_kind" in p.why for p in kept.products)  # hybrid: the photo's traits kept
    early = call_tool(ctx, "search_by_photo", {"image": photo, "text": "but in black", "k": 3, "fusion": "early"})
    assert early.products and not any("photo_kind" in p.why for p in early.products)  # early as it ranks
    refused = call_tool(ctx, "search_by_photo", {"image": photo, "text": "but in black", "fusion": "attention"})
    assert isinstance(refused, ToolError) and "train-fusion" in refused.error  # this retriever has no model
    missing = call_tool(ctx, "get_product", {"product_id": "no-such-id"})
    assert isinstance(missing, ToolError) and "no-such-id" in missing.error


@pytest.mark.parametrize(("mode", "method"), [("late", "rrf"), ("hybrid", "rrf"), ("late", "dbsf")])
def test_fusion_in_qdrant_equals_fusion_here(indexed, mode, method):
    retriever, *_ = indexed
    local = Retriever(retriever.index, "kagl", retriever.clip, retriever.text, retriever.sparse, engine_fusion=False)
    req = SearchRequest(text="blue denim jeans for women", fusion=mode, late_method=method, k=10)
    a, b = retriever.search(req), local.search(req)
    # Qdrant computes in float32, the pure functions in float64.
    assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], rel=1e-5, abs=1e-6)
    assert [h.product_id for h in a.hits][:5] == [h.product_id for h in b.hits][:5]


def test_batch_cli_prints_one_json_line_per_query(indexed, tmp_path):
    import json
    import subprocess
    import sys

    retriever, _, _, rows = indexed
    photo = next(r for r in rows if r["image"])
    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps({"id": "a", "text": "black sandals for men", "k": 3})
        + "\n"
        + json.dumps({"id": "b", "image": photo["image"], "fusion": "early", "k": 2})
        + "\n"
        + "{not json\n"
        + json.dumps({"id": "c", "text": ""})
        + "\n"
    )
    index_dir = retriever.index.root
    retriever.index.close()  # one process per shard folder: let the CLI open it
    r = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--index", str(index_dir), "search", "--batch", str(q), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x.get("id") for x in lines[:2]] == ["a", "b"]
    assert len(lines[0]["hits"]) == 3 and len(lines[1]["hits"]) == 2
    assert "invalid JSON" in lines[2]["error"] and "empty" in lines[3]["error"]


# -- photo queries: the head's vote, the framed view, attention fusion ----------------------


def test_a_shoppers_photo_on_a_wall_finds_its_kind_and_says_the_vote_moved_it(indexed):
    from benchmarks.photo_variants import variant

    retriever, _, _, rows = indexed
    watch = next(r for r in rows if r["article_type"] == "Watches" and r["image"])
    shot = variant(Image.open(watch["image"]).convert("RGB"), watch["id"], "backdrop")
    resp = retriever.search(SearchRequest(image=shot, filters=Filters(exclude_product_ids=[watch["id"]]), k=10))
    assert [h.product.category for h in resp.hits].count("Watches") >= 9
    assert any(e.modality == "photo_kind" and e.rank == 1 for e in resp.hits[0].evidence)
    assert any(m["modality"] == "photo_kind" for m in resp.to_dict()["hits"][0]["explanation"]["modalities"])


def test_a_photo_with_words_runs_in_attention_by_default_and_early_when_pinned(indexed, encoders):
    from assistant.clip.fusion_model import DEFAULT_FUSION_MODEL
    from assistant.retrieval.attention import AttentionComposer

    retriever, _, _, rows = indexed
    composer = AttentionComposer.load(encoders.clip.clip, DEFAULT_FUSION_MODEL)
    with_attention = Retriever(retriever.index, "kagl", retriever.clip, retriever.text, retriever.sparse, attention=composer)
    shoe = next(r for r in rows if r["article_type"] == "Sports Shoes" and r["image"] and r["base_colour"] != "Black")
    img = Image.open(shoe["image"]).convert("RGB")
    resp = with_attention.search(SearchRequest(image=img, text="like this but in black", k=5))
    assert resp.fusion == "attention"
    assert [h.product.colour for h in resp.hits].count("Black") >= 4
    assert all(h.product.category in ("Sports Shoes", "Casual Shoes") for h in resp.hits)
    assert with_attention.search(SearchRequest(image=img, text="like this but in black", k=5, pinned=True)).fusion == "hybrid"
    assert with_attention.search(SearchRequest(image=img, k=5)).fusion == "hybrid"  # a photo alone: nothing to read together
    with pytest.raises(QueryError, match="photo and words together"):
        with_attention.search(SearchRequest(text="black shoes", fusion="attention"))
    # The photo read once for attention (its views' tokens in one pass) is the photo read twice:
    # the same vector as the pooled encoder's views, the same attention-fused query.
    read = with_attention._read_photo(img, with_tokens=True)
    assert float(read.vector @ with_attention._photo_vector(img)) > 0.9999
    assert read.tokens is not None
    once = composer.query(img, "like this but in black", read.tokens)
    assert float(with_attention._read_photo(img, with_tokens=False).vector @ read.vector) > 0.9999
    assert float(once @ composer.query(img, "like this but in black")) > 0.9999


def test_a_photo_with_words_keeps_what_the_words_do_not_change(indexed):
    retriever, _, _, rows = indexed
    # "this in leather": the photo's kind, with leather in the name (KAGL has no material field)
    sandal = next(
        r
        for r in rows
        if r["article_type"] == "Sandals" and r["gender"] == "Men" and r["image"] and not {"leather", "sports"} & set(r["name"].lower().split())
    )
    leather = {r["id"] for r in rows if r["article_type"] == "Sandals" and "leather" in r["name"].lower().split()}
    resp = retriever.search(SearchRequest(image=Image.open(sandal["image"]).convert("RGB"), text="this in leather", k=10))
    assert len(leather) >= 5 and {h.product_id for h in resp.hits[:5]} <= leather
    assert all(any(e.modality == "asked_words" for e in h.evidence) for h in resp.hits[:5])
    # "same but for women": women's (or unisex) T-shirts, the photo's colour first
    shirt = next(r for r in rows if r["article_type"] == "Tshirts" and r["gender"] == "Men" and r["base_colour"] == "Black" and r["image"])
    resp = retriever.search(SearchRequest(image=Image.open(shirt["image"]).convert("RGB"), text="same but for women", k=5))
    assert all(h.product.gender in ("Women", "Unisex") for h in resp.hits)
    assert [(h.product.category, h.product.colour) for h in resp.hits[:3]] == [("Tshirts", "Black")] * 3
    assert any(e.modality == "photo_colour" for e in resp.hits[0].evidence)
    # the packaged colour reader joins the neighbours' reading of the colour: the same answer
    from assistant.clip.colour_reader import DEFAULT_COLOUR_READER, ColourReader

    reading = Retriever(
        retriever.index, "kagl", retriever.clip, retriever.text, retriever.sparse, colour_reader=ColourReader.load(DEFAULT_COLOUR_READER)
    )
    read = reading.search(SearchRequest(image=Image.open(shirt["image"]).convert("RGB"), text="same but for women", k=5))
    assert [(h.product.category, h.product.colour) for h in read.hits[:3]] == [("Tshirts", "Black")] * 3
    # without the tiers (vote=False), the same words leave colours as the fused vector has them
    loose = retriever.search(SearchRequest(image=Image.open(shirt["image"]).convert("RGB"), text="same but for women", k=5, vote=False))
    assert not any(e.modality == "photo_colour" for h in loose.hits for e in h.evidence)


def test_a_photo_with_words_fills_a_page_of_its_kind_when_the_fused_list_holds_too_few(indexed):
    from collections import Counter
    from dataclasses import replace

    retriever, _, _, rows = indexed
    # a kind with ten products of one colour, and a photo of that kind in another colour
    counts = Counter((r["article_type"], r["base_colour"]) for r in rows if r["gender"] in ("Men", "Unisex"))
    (kind, colour), _ = next(
        (kc, n)
        for kc, n in counts.most_common()
        if n >= 10 and any(r["article_type"] == kc[0] and r["base_colour"] != kc[1] and r["image"] and r["gender"] == "Men" for r in rows)
    )
    photo = next(r for r in rows if r["article_type"] == kind and r["base_colour"] != colour and r["image"] and r["gender"] == "Men")
    # a short fused list (3 candidates a list) cannot hold a page of ten by itself
    narrow = Retriever(retriever.index, "kagl", retriever.clip, retriever.text, retriever.sparse, config=replace(retriever.config, candidates=3))
    request = SearchRequest(image=Image.open(photo["image"]).convert("RGB"), text=f"like this but in {colour.lower()}", k=10)
    resp = narrow.search(request)
    assert [(h.product.category, h.product.colour) for h in resp.hits] == [(kind, colour)] * 10
    assert all(any(e.modality == "photo_kind" for e in h.evidence) for h in resp.hits)
    unfilled_config = replace(retriever.config, candidates=3, photo_kind_fill=False)
    unfilled = Retriever(retriever.index, "kagl", retriever.clip, retriever.text, retriever.sparse, config=unfilled_config).search(request)
    assert len(unfilled.hits) < 10
