"""The `shop-assistant` command line: ingest, search, eval, bench, train-clip, export-clip.

The composition root for command-line use: builds `Settings` from the global options and
the environment, then the index and encoders, once per process. Every project error ends
the process with a one-line message and exit code 2; nothing here prints a traceback for
bad input.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.config import LLM_BACKENDS, POLICY_CHOICES, Settings
from assistant.errors import AssistantError, QueryError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="Multimodal shopping assistant.")
DEFAULT_CATALOGUE = Path("../shared/data/kagl/products.csv")


class _State:
    settings: Settings


state = _State()


@app.callback()
def main_options(
    index: Annotated[Path | None, typer.Option("--index", help="Embedded index folder (default: the user data dir).")] = None,
    qdrant_url: Annotated[str | None, typer.Option("--qdrant-url", help="Use a Qdrant server at this URL instead.")] = None,
    collection: Annotated[str | None, typer.Option("--collection", help="Catalogue (collection) name.")] = None,
    sessions: Annotated[
        str | None, typer.Option("--sessions", help="Sessions store: postgresql://... for server replicas (default: SQLite in the data dir).")
    ] = None,
    clip_model: Annotated[str | None, typer.Option("--clip-model", help="open_clip model name or local-dir:PATH.")] = None,
    clip_pretrained: Annotated[str | None, typer.Option("--clip-pretrained", help="CLIP checkpoint file.")] = None,
    llm: Annotated[str | None, typer.Option("--llm", help="Who words answers: embedded (default), openai or none.")] = None,
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Model name at the endpoint.")] = None,
    llm_threads: Annotated[int | None, typer.Option("--llm-threads", help="Threads for the embedded model.")] = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Who chooses each turn's steps: auto (default), planner, model or guarded (openai only).")
    ] = None,
) -> None:
    s = Settings.from_env()
    if index is not None:
        s.index.path = index
    if qdrant_url is not None:
        s.index.qdrant_url = qdrant_url
    if collection is not None:
        s.collection = collection
    if sessions is not None:
        s.sessions = sessions
    if clip_model is not None:
        s.clip.model = clip_model
    if clip_pretrained is not None:
        s.clip.pretrained = clip_pretrained
    if llm is not None:
        if llm not in LLM_BACKENDS:
            raise typer.BadParameter(f"{llm!r}; choose one of {', '.join(LLM_BACKENDS)}", param_hint="--llm")
        s.llm.backend = llm  # type: ignore[assignment]
        if llm == "openai" and llm_url is None and not s.llm.url:
            raise typer.BadParameter("the openai backend needs --llm-url", param_hint="--llm")
    if llm_url is not None:
        s.llm.url = llm_url
    if llm_model is not None:
        s.llm.model = llm_model
    if llm_threads is not None:
        s.llm.threads = llm_threads
    if policy is not None:
        if policy not in POLICY_CHOICES:
            raise typer.BadParameter(f"{policy!r}; choose one of {', '.join(POLICY_CHOICES)}", param_hint="--policy")
        if policy in ("model", "guarded") and s.llm.backend != "openai":
            raise typer.BadParameter(f"the {policy} policy needs a tool-calling model: --llm openai --llm-url URL", param_hint="--policy")
        s.llm.policy = policy  # type: ignore[assignment]
    state.settings = s


def _model_tag(s: Settings) -> str:
    from assistant.clip.model import DEFAULT_WEIGHTS

    weights = Path(s.clip.pretrained) if s.clip.pretrained else DEFAULT_WEIGHTS
    sig = weights.stat().st_size if weights.is_file() else 0
    return f"{s.clip.model}:{weights.name}:{sig}"


@app.command()
def ingest(
    catalogue: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file.")] = DEFAULT_CATALOGUE,
    mapping: Annotated[str | None, typer.Option(help="Column mapping (default: detected).")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N products.")] = None,
    batch_size: Annotated[int, typer.Option(help="Products encoded per batch.")] = 64,
    recreate: Annotated[bool, typer.Option("--recreate", help="Delete the collection first.")] = False,
    optimize: Annotated[bool, typer.Option(help="Build the HNSW index after ingest.")] = True,
    show_issues: Annotated[int, typer.Option(help="Print up to N row issues.")] = 20,
    prune: Annotated[bool, typer.Option("--prune", help="Remove indexed products that are no longer in the catalogue.")] = False,
) -> None:
    """Load a catalogue, encode it and upsert it into the index (idempotent, resumable; a product
    whose price or stock alone changed gets its payload replaced, not re-encoded)."""
    from assistant.catalogue.loader import load_catalogue
    from assistant.ingest import ingest_catalogue
    from assistant.runtime import load_encoders, open_index

    if prune and limit is not None:  # refused before anything is read or opened
        raise typer.BadParameter("--prune with --limit would remove every product past the limit", param_hint="--prune")
    s = state.settings
    cat = load_catalogue(catalogue, mapping=mapping, limit=limit)
    typer.echo(f"read {len(cat.products)} products from {catalogue} (mapping {cat.mapping}); {len(cat.issues)} rows rejected", err=True)
    index = open_index(s)
    if recreate and index.collection_exists(s.collection):
        index.delete_collection(s.collection)
    enc = load_encoders(s)
    report = ingest_catalogue(cat, index, s.collection, enc, _model_tag(s), batch_size=batch_size, prune=prune)
    if optimize:
        typer.echo("building the vector index (HNSW); this takes a minute on 2 cores...", err=True)
        index.optimize(s.collection)
    for issue in report.issues[:show_issues]:
        where = f"row {issue.row}" if issue.row else "image"
        typer.echo(f"  {where} (id {issue.product_id}): {issue.reason}", err=True)
    if len(report.issues) > show_issues:
        typer.echo(f"  ... and {len(report.issues) - show_issues} more issues", err=True)
    index.close()
    where = s.index.qdrant_url or s.index.path
    typer.echo(f"{report.summary()}; index at {where}")


@app.command()
def reindex(
    catalogue: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file.")] = DEFAULT_CATALOGUE,
    mapping: Annotated[str | None, typer.Option(help="Column mapping (default: detected).")] = None,
    keep_old: Annotated[bool, typer.Option("--keep-old", help="Keep the collection served before (default: delete it after the switch).")] = False,
) -> None:
    """Rebuild the catalogue into a new collection while search keeps answering from the old
    one, then switch the served name to it in one step (an alias) and drop the old one."""
    from assistant.catalogue.loader import load_catalogue
    from assistant.reindex import reindex_catalogue
    from assistant.runtime import load_encoders, open_index

    s = state.settings
    cat = load_catalogue(catalogue, mapping=mapping)
    typer.echo(f"read {len(cat.products)} products from {catalogue} (mapping {cat.mapping}); {len(cat.issues)} rows rejected", err=True)
    index = open_index(s)
    try:
        report = reindex_catalogue(cat, index, s.collection, load_encoders(s), _model_tag(s), keep_old=keep_old)
    finally:
        index.close()
    typer.echo(report.summary())


def _embedded_index(what: str) -> Any:
    """The embedded index of the settings; a Qdrant server has snapshots of its own."""
    from assistant.index.edge import EdgeIndex

    s = state.settings
    if s.index.qdrant_url:
        raise typer.BadParameter(
            f"{what} works on the embedded index; a Qdrant server makes and recovers its own snapshots "
            "(its snapshot API, or qdrant-client's create_snapshot / recover_snapshot)",
            param_hint="--qdrant-url",
        )
    return EdgeIndex(s.index.path)


@app.command()
def snapshot(out: Annotated[Path, typer.Argument(help="The snapshot file to write (a tar archive).")]) -> None:
    """Write the embedded collection to one file: a backup, or a copy for another machine
    (run it while no server has the index open)."""
    from assistant.index.snapshots import create_snapshot

    s = state.settings
    index = _embedded_index("snapshot")
    try:
        info = create_snapshot(index, s.collection, out)
    finally:
        index.close()
    typer.echo(f"snapshot of {info.collection!r}: {info.points} products, {info.files} files, {info.bytes / 1e6:.0f} MB, at {info.path}")


@app.command()
def restore(
    snapshot_file: Annotated[Path, typer.Argument(help="A file written by `shop-assistant snapshot`.")],
    collection: Annotated[str | None, typer.Option("--as", help="Restore under this collection name (default: the snapshot's).")] = None,
) -> None:
    """Replace the embedded collection with a snapshot, once the whole snapshot has been
    checked (a corrupt or foreign one is refused and the live collection is left as it was)."""
    from assistant.index.snapshots import restore_snapshot

    index = _embedded_index("restore")
    try:
        info = restore_snapshot(index, snapshot_file, collection)
    finally:
        index.close()
    typer.echo(f"restored {info.collection!r}: {info.points} products from {info.path}")


def _print_table(resp: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"{resp.fusion} fusion"
    if resp.query_text:
        title += f" · query {resp.query_text!r}"
    t = Table(title=title)
    for col in ("#", "id", "name", "score", "why"):
        t.add_column(col)
    for h in resp.hits:
        t.add_row(str(h.rank), h.product_id, h.name, f"{h.score:.4f}", h.explain())
    c = Console()
    c.print(t)
    if resp.filters_applied:
        c.print("filters: " + "; ".join(resp.filters_applied))
    if resp.filters_relaxed:
        c.print("[yellow]relaxed (nothing matched them all): " + "; ".join(resp.filters_relaxed))


def _search_video(retriever: Any, video: Path, text: str | None, k: int, as_json: bool) -> None:
    from rich.console import Console

    from assistant.video.items import search_video

    result = search_video(retriever, video, text=text, k=k)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    c = Console()
    c.print(f"{result.seconds:.1f} s of video, {result.frames_sampled} frames sampled, {result.shots} shots, {len(result.groups)} products seen")
    for n, g in enumerate(result.groups, 1):
        seen = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in g.item.spans)
        c.print(f"\n[bold]Item {n}[/bold]: on screen {seen} (sharpest at {g.item.frame.t:.1f} s)")
        _print_table(g.response)


def _request(obj: dict[str, Any], base: Path | None = None) -> Any:
    from assistant.encoders.images import load_image
    from assistant.index.base import Filters
    from assistant.retrieval.search import SearchRequest

    unknown = set(obj) - {"text", "image", "filters", "fusion", "k", "late_method", "id", "relevant", "kind", "article_type"}
    if unknown:
        raise QueryError(f"unknown query fields {sorted(unknown)}")
    img = None
    if obj.get("image"):
        p = Path(obj["image"])
        img = load_image(p if p.is_absolute() or base is None else base / p)
    filters = None
    if obj.get("filters"):
        try:
            filters = Filters(**obj["filters"])
        except TypeError as e:
            raise QueryError(f"bad filters {obj['filters']}: {e}") from e
    return SearchRequest(
        text=obj.get("text"),
        image=img,
        filters=filters,
        fusion=obj.get("fusion", "hybrid"),
        late_method=obj.get("late_method"),
        k=int(obj.get("k", 10)),
    )


@app.command()
def search(
    text: Annotated[str | None, typer.Option("--text", help="What the shopper typed.")] = None,
    image: Annotated[Path | None, typer.Option("--image", help="A photo to search with.")] = None,
    video: Annotated[
        Path | None, typer.Option("--video", help="A clip (MP4, MOV, WebM; up to 30 s, 50 MB): one card group per product it shows.")
    ] = None,
    fusion: Annotated[str, typer.Option(help="bm25, text, clip, early, late, hybrid, or attention (a photo and words).")] = "hybrid",
    late_method: Annotated[str | None, typer.Option(help="rrf, dbsf or weighted (default: the mode's).")] = None,
    k: Annotated[int, typer.Option(help="Number of results.")] = 10,
    batch: Annotated[Path | None, typer.Option("--batch", help="JSONL file of queries, one result line each.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the catalogue by text, photo, or both; explains every hit."""
    from assistant.runtime import build_retriever

    s = state.settings
    retriever = build_retriever(s)
    retriever.require_collection()
    if batch is not None:
        with batch.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    resp = retriever.search(_request(obj, batch.parent))
                    out = resp.to_dict()
                    if "id" in obj:
                        out["id"] = obj["id"]
                except json.JSONDecodeError as e:
                    out = {"line": line_no, "error": f"invalid JSON: {e.msg}"}
                except AssistantError as e:
                    out = {"line": line_no, "error": e.message}
                typer.echo(json.dumps(out))
        return
    if video is not None:
        if image is not None or batch is not None:
            raise QueryError("give --video alone, or with --text; not with --image or --batch")
        _search_video(retriever, video, text, k, as_json)
        return
    req = _request({"text": text, "fusion": fusion, "k": k, "late_method": late_method})
    if image is not None:
        from assistant.encoders.images import load_image

        req.image = load_image(image)
    resp = retriever.search(req)
    if as_json:
        typer.echo(json.dumps(resp.to_dict(), indent=2))
    else:
        _print_table(resp)


@app.command("train-clip")
def train_clip_cmd(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue with photos.")] = DEFAULT_CATALOGUE,
    out: Annotated[Path | None, typer.Option(help="Delta checkpoint to write (default: the packaged one).")] = None,
    epochs: Annotated[int, typer.Option()] = 12,
    seed: Annotated[int, typer.Option()] = 0,
    attribute_weight: Annotated[float, typer.Option(min=0.0, help="Weight of the photo attribute term (0 = off).")] = 0.0,
    views: Annotated[int, typer.Option(min=1, max=3, help="Cached photo views: 1 = as taken; 2 adds it mirrored; 3 a random crop.")] = 2,
    scene_views: Annotated[int, typer.Option(min=0, max=4, help="Cached shopper's-photo views of each photo (clip.scenes); 0 = studio only.")] = 0,
    scene_share: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of pairs shown as a scene in each epoch (with --scene-views; default 0.5).")
    ] = None,
) -> None:
    """Train the catalogue CLIP with open_clip's contrastive loss; prints validation recall."""
    if scene_share is not None and scene_views == 0:
        # Without scene views there is nothing to show at that share: said before the
        # half-hour of caching, not found after it.
        raise QueryError("--scene-share needs --scene-views 1 or more (the scenes it shares out)")
    import torch

    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.model import DEFAULT_WEIGHTS
    from assistant.clip.train import TrainConfig, train_clip

    s = state.settings
    torch.set_num_threads(s.threads)
    cat = load_catalogue(catalogue)
    target = out or DEFAULT_WEIGHTS
    cfg = TrainConfig(epochs=epochs, seed=seed, attribute_weight=attribute_weight, views=views, scene_views=scene_views)
    if scene_share is not None:
        cfg = replace(cfg, scene_share=scene_share)
    report = train_clip(cat.products, target, cfg, cache_dir=s.data_dir / "cache")
    typer.echo(json.dumps(report.final.__dict__ if report.final else {}, indent=2))
    typer.echo(f"saved {target} in {report.seconds:.0f} s")


@app.command("mix-clip")
def mix_clip_cmd(
    first: Annotated[Path, typer.Argument(help="Catalogue CLIP delta checkpoint (e.g. trained on studio photos).")],
    second: Annotated[Path, typer.Argument(help="Another, trained from the same start (e.g. with --scene-views).")],
    share: Annotated[float, typer.Option(min=0.0, max=1.0, help="The second model's part of each weight.")] = 0.5,
    out: Annotated[Path | None, typer.Option(help="Delta checkpoint to write (default: the packaged one).")] = None,
) -> None:
    """Mix two catalogue CLIPs weight by weight (clip.mixing); the sources' reports go into the mix's."""
    from assistant.clip.mixing import mix_checkpoints
    from assistant.clip.model import DEFAULT_WEIGHTS

    target = out or DEFAULT_WEIGHTS
    # Read before writing: `out` may be one of the sources (the packaged file mixed in place).
    reports = {}
    for role, src in (("first", first), ("second", second)):
        rp = src.with_suffix(".report.json")
        reports[role] = json.loads(rp.read_text(encoding="utf-8")) if rp.is_file() else None
    meta = mix_checkpoints(first, second, share, target)
    report = {"mixed": {"first": first.name, "second": second.name, "share": share}, **reports}
    target.with_suffix(".report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(f"saved {target} ({meta['mixed']})")


@app.command("train-photo-tower")
def train_photo_tower_cmd(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue with photos.")] = DEFAULT_CATALOGUE,
    out: Annotated[Path | None, typer.Option(help="Tower file to write (default: the packaged one).")] = None,
    scene_views: Annotated[int, typer.Option(min=1, help="Cached shopper's-photo scenes of each photo (clip.scenes).")] = 2,
    epochs: Annotated[int, typer.Option(min=1)] = 6,
    cache_dir: Annotated[Path | None, typer.Option(help="Keep the cut image features here for a rerun.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the image tower for shoppers' photos (clip.photo_tower): scenes of each product's
    photo mapped onto the catalogue CLIP's vector of its studio photo (~20 minutes on 2 cores)."""
    import torch

    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.model import KAGL_CLIP, load_open_clip
    from assistant.clip.photo_tower import DEFAULT_PHOTO_TOWER, PhotoTowerConfig, train_photo_tower

    s = state.settings
    if s.clip.model != KAGL_CLIP:
        raise QueryError("the photo tower is trained from the catalogue CLIP's image tower; drop --clip-model")
    torch.set_num_threads(s.threads)
    clip = load_open_clip(s.clip.model, s.clip.pretrained)
    dest = out or DEFAULT_PHOTO_TOWER
    cfg = PhotoTowerConfig(scene_views=scene_views, epochs=epochs, seed=seed)
    report = train_photo_tower(load_catalogue(catalogue).products, clip, dest, cfg, cache_dir, log=lambda m: typer.echo(m, err=True))
    dest.with_suffix(".report.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    typer.echo(
        f"validation scenes finding their own product in the top 5: {report.scenes_own_at_5_clip:.3f} (catalogue CLIP) -> "
        f"{report.scenes_own_at_5_tower:.3f} (tower); studio photos' cosine to their CLIP vector {report.studio_cosine:.3f}"
    )
    typer.echo(f"saved {dest} in {report.seconds:.0f} s")


@app.command("train-fusion")
def train_fusion_cmd(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue with photos.")] = DEFAULT_CATALOGUE,
    out: Annotated[Path | None, typer.Option(help="Model file to write (default: the packaged one).")] = None,
    minutes: Annotated[float, typer.Option(help="Training time budget, after the tokens are cached.")] = 12.0,
    steps: Annotated[int | None, typer.Option(help="Train this many steps instead (the packaged model: 2656, in its report).")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train attention fusion (photo + words, cross-attention) on composed pairs from the catalogue."""
    import torch

    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.fusion_model import DEFAULT_FUSION_MODEL
    from assistant.clip.model import KAGL_CLIP, load_open_clip
    from assistant.clip.train_fusion import FusionTrainConfig, train_fusion

    s = state.settings
    if s.clip.model != KAGL_CLIP or s.clip.pretrained is not None:
        raise QueryError("attention fusion is trained on the catalogue CLIP's towers; drop --clip-model / --clip-pretrained")
    torch.set_num_threads(s.threads)
    cat = load_catalogue(catalogue)
    target = out or DEFAULT_FUSION_MODEL
    clip = load_open_clip(s.clip.model, s.clip.pretrained)
    report = train_fusion(clip, cat.products, target, FusionTrainConfig(minutes=minutes, max_steps=steps, seed=seed), cache_dir=s.data_dir / "cache")
    typer.echo(json.dumps({k: v for k, v in report.__dict__.items() if k != "config"}, indent=2))


@app.command("export-clip")
def export_clip_cmd(out: Annotated[Path, typer.Argument(help="Folder to write.")]) -> None:
    """Write the catalogue CLIP as a complete open_clip checkpoint folder (local-dir: layout)."""
    from assistant.clip.model import export_open_clip_dir, load_open_clip

    s = state.settings
    export_open_clip_dir(load_open_clip(s.clip.model, s.clip.pretrained), out)
    typer.echo(f"wrote {out}; load with open_clip.create_model_and_transforms('local-dir:{out}')")


def main() -> None:
    """Entry point: project errors become one line on stderr and exit code 2."""
    try:
        app()
    except AssistantError as e:
        typer.echo(f"error: {e.message}", err=True)
        sys.exit(2)


@app.command("eval")
def eval_cmd(
    queries: Annotated[Path, typer.Argument(help="Query set (JSONL with graded judgements).")] = Path("benchmarks/queries/kagl-dev.jsonl"),
    modes: Annotated[str, typer.Option(help="Comma-separated fusion modes.")] = "bm25,text,clip,early,late,hybrid",
    out: Annotated[Path | None, typer.Option(help="Write the scores as JSON here.")] = None,
) -> None:
    """Retrieval quality per fusion mode: nDCG@10, Recall@10/50, MRR (table + JSON)."""
    from rich.console import Console
    from rich.table import Table

    from assistant.evaluation import evaluate, load_query_set
    from assistant.runtime import build_retriever

    s = state.settings
    retriever = build_retriever(s)
    qs = load_query_set(queries)
    rows = evaluate(retriever, qs, [m.strip() for m in modes.split(",")])  # type: ignore[misc]
    t = Table(title=f"{queries} ({len(qs)} queries), collection {s.collection!r}")
    for col in ("queries", "mode", "n", "nDCG@10", "R@10", "R@50", "MRR", "type P@10"):
        t.add_column(col)
    for r in rows:
        tp = f"{r.type_precision_10:.3f}" if r.type_precision_10 is not None else "-"
        if r.queries:
            t.add_row(r.kind, r.mode, str(r.queries), f"{r.ndcg_10:.3f}", f"{r.recall_10:.3f}", f"{r.recall_50:.3f}", f"{r.mrr:.3f}", tp)
        else:
            t.add_row(r.kind, r.mode, str(r.type_queries), "-", "-", "-", "-", tp)
    Console().print(t)
    dest = out or Path("benchmarks/results/eval.json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps([{k: v for k, v in r.__dict__.items()} for r in rows], indent=1))
    typer.echo(f"wrote {dest}")


@app.command("train-classifier")
def train_classifier_cmd(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue with photos and labels.")] = DEFAULT_CATALOGUE,
    out: Annotated[Path | None, typer.Option(help="Classifier file (default: the packaged one).")] = None,
    epochs: Annotated[int, typer.Option()] = 30,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the early/late-fusion attribute classifier on CLIP features; prints accuracy per kind."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.classifier import report_json, train_classifier
    from assistant.clip.model import DEFAULT_CLASSIFIER, load_open_clip
    from assistant.clip.train import is_validation
    from assistant.encoders.clip import ClipEncoder
    from assistant.encoders.images import load_image

    s = state.settings
    torch.set_num_threads(s.threads)
    enc = ClipEncoder(load_open_clip(s.clip.model, s.clip.pretrained))
    products, images, skipped = [], [], 0
    for p in load_catalogue(catalogue).products:
        if p.image is None:
            continue
        try:
            images.append(load_image(p.image))
            products.append(p)
        except AssistantError:
            skipped += 1
    typer.echo(f"{len(products)} products with photos; {skipped} bad photos skipped", err=True)
    img = np.concatenate([enc.encode_image(images[i : i + 64]) for i in tqdm(range(0, len(images), 64), desc="photos", unit="batch")])
    txt = enc.encode_text([p.name for p in products])
    targets = {
        "article_type": [str(p.category) for p in products],
        "colour": [str(p.colour) for p in products],
        "gender": [str(p.gender) for p in products],
    }
    is_val = np.array([is_validation(p.id) for p in products])
    clf, report = train_classifier(img, txt, targets, is_val, epochs=epochs, seed=seed)
    dest = out or DEFAULT_CLASSIFIER
    clf.save(dest)
    dest.with_suffix(".report.json").write_text(report_json(report))
    typer.echo(f"validation accuracy ({report.validation} products; train {report.train}):")
    typer.echo(report.table())
    typer.echo(f"saved {dest}")


@app.command("train-colour-reader")
def train_colour_reader_cmd(
    catalogue: Annotated[Path, typer.Argument(help="Catalogue with photos and colours.")] = DEFAULT_CATALOGUE,
    out: Annotated[Path | None, typer.Option(help="Reader file (default: the packaged one).")] = None,
) -> None:
    """Train the reader of a photo's colour (CLIP vector + product pixels) on the CLIP's training
    split's photos; prints its accuracy on the validation split's (~3 minutes on 2 cores)."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.colour_reader import DEFAULT_COLOUR_READER, pixel_features, train_colour_reader
    from assistant.clip.model import load_open_clip
    from assistant.clip.train import is_validation
    from assistant.encoders.clip import ClipEncoder
    from assistant.encoders.images import load_image

    s = state.settings
    torch.set_num_threads(s.threads)
    enc = ClipEncoder(load_open_clip(s.clip.model, s.clip.pretrained))
    products = [p for p in load_catalogue(catalogue).products if p.image is not None and p.colour]
    vectors, pixels, kept, skipped = [], [], [], 0
    for i in tqdm(range(0, len(products), 64), desc="photos", unit="batch"):
        images = []
        for p in products[i : i + 64]:
            try:
                images.append(load_image(p.image))
                kept.append(p)
            except AssistantError:
                skipped += 1
        if images:
            vectors.append(enc.encode_image(images))
            pixels.extend(pixel_features(im) for im in images)
    if not kept:
        raise AssistantError(f"no readable photo with a colour in {catalogue}")
    typer.echo(f"{len(kept)} photos with a colour; {skipped} bad photos skipped", err=True)
    is_val = np.array([is_validation(p.id) for p in kept])
    reader, report = train_colour_reader(np.concatenate(vectors), np.stack(pixels), [str(p.colour) for p in kept], is_val)
    dest = out or DEFAULT_COLOUR_READER
    reader.save(dest, report)
    typer.echo(
        f"{report.colours} colours; validation accuracy {report.accuracy:.3f} ({report.validation} photos; "
        f"{report.accuracy_clip_only:.3f} from the CLIP vector alone); trained on {report.train}"
    )
    typer.echo(f"saved {dest}")


BENCHMARKS = {"query": "bench_query.py", "ingest": "bench_ingest.py", "scale": "bench_scale.py"}


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    which: Annotated[str, typer.Argument(help="query, ingest or scale")] = "query",
) -> None:
    """Run a benchmark from benchmarks/ (extra options pass through); prints a table, writes JSON."""
    import runpy

    if which not in BENCHMARKS:
        raise QueryError(f"unknown benchmark {which!r}; choose one of {sorted(BENCHMARKS)}")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / BENCHMARKS[which]
    if not script.is_file():
        raise AssistantError(f"benchmark script not found at {script}: run from a checkout of the repository")
    s = state.settings
    args = list(ctx.args)
    if which == "query":
        args = ["--index", str(s.index.path), "--collection", s.collection, *args]
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")


@app.command()
def chat(
    session: Annotated[str | None, typer.Option(help="Resume this session id.")] = None,
    policies: Annotated[Path | None, typer.Option(help="Folder of store policy .md files (default: the example).")] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Also print each tool call, each review of a model's call, and what the model remembers.")
    ] = False,
) -> None:
    """Talk to the assistant in the terminal. `/photo PATH [words]` sends a photo; `/quit` ends."""
    from assistant.encoders.images import load_image
    from assistant.server.services import load_services

    services = load_services(state.settings, policies)
    agent = services.agent
    sid = session
    typer.echo("Shopping assistant. Ask for products, or /photo PATH [words]. /quit to leave.")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if line.strip() in ("/quit", "/exit"):
            break
        image = None
        if line.startswith("/photo "):
            path, _, line = line[len("/photo ") :].strip().partition(" ")
            try:
                image = load_image(Path(path))
            except AssistantError as e:
                typer.echo(f"error: {e.message}")
                continue
        for ev in agent.turn(sid, line, image):
            if ev.type == "start":
                sid = ev.session_id
            elif ev.type == "text-delta":
                typer.echo(ev.delta, nl=False)
            elif ev.type == "text-end":
                typer.echo()
            elif ev.type == "error":
                typer.echo(f"error: {ev.error_text}")
            elif ev.type == "data-notice":
                typer.echo(f"({ev.data['text']})")
            elif debug and ev.type == "tool-input-available":
                typer.echo(f"[call] {ev.tool_name} {json.dumps(ev.input, ensure_ascii=False)}", err=True)
            elif debug and ev.type == "data-tool-review":
                reason = f": {ev.data['reason']}" if ev.data.get("reason") else ""
                typer.echo(f"[review] {ev.data['tool']} {ev.data['action']}{reason}", err=True)
        if debug and sid is not None:
            _print_memory(agent.store.load(sid))
    services.close()
    typer.echo(f"session {sid} saved; resume with --session {sid}")


def _print_memory(saved: Any) -> None:
    """What a model reads of the conversation now: the summary of older turns, the recent ones."""
    from assistant.history import history_tokens, summary_view

    if saved is None:
        return
    summary = json.dumps(summary_view(saved.summary), ensure_ascii=False) if saved.summary.turns else "(nothing folded yet)"
    typer.echo(f"[memory] ~{history_tokens(saved)} tokens; {len(saved.history)} recent turns; summary {summary}", err=True)


@app.command()
def mcp(
    policies: Annotated[Path | None, typer.Option(help="Folder of store policy .md files (default: the example).")] = None,
) -> None:
    """Serve the tools over MCP on stdin/stdout (for a local MCP client); the server also has /mcp."""
    import anyio

    from assistant.server.mcp_tools import serve_stdio
    from assistant.server.services import load_services

    s = state.settings.model_copy(deep=True)
    s.llm.backend = "none"  # the tools need no language model
    anyio.run(serve_stdio, load_services(s, policies))


@app.command("model-file")
def model_file(
    name: Annotated[
        str, typer.Argument(help="qwen2.5-coder-0.5b (the embedded default) or qwen2.5-coder-1.5b (the llm-1-5b extra).")
    ] = "qwen2.5-coder-0.5b",
) -> None:
    """Print the path of a packaged chat model's GGUF file, assembling it first if needed: what
    `python -m llama_cpp.server --model` takes to serve it as a local tool-calling endpoint."""
    from assistant.llm.gguf import packaged_gguf

    typer.echo(packaged_gguf(state.settings.data_dir / "models", name))


@app.command("protocol-schema")
def protocol_schema() -> None:
    """Print the WebSocket protocol's version and JSON Schemas (docs/protocol.schema.json)."""
    from assistant.server.app import protocol_document

    typer.echo(json.dumps(protocol_document(), indent=2, sort_keys=True))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1; others need API keys).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
    policies: Annotated[Path | None, typer.Option(help="Folder of store policy .md files (default: the example).")] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="File of API keys, one a line (also SHOP_ASSISTANT_API_KEYS).")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(help="A browser origin allowed to call the API; repeatable.")] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests and turns a minute per client address, under its key (0: no limit; default 600).")
    ] = None,
    rate_burst: Annotated[int | None, typer.Option(help="Requests a key may make at once (default 60).")] = None,
    trusted_proxy: Annotated[
        list[str] | None, typer.Option(help="A reverse proxy (address or network) whose X-Forwarded-For names the client; repeatable.")
    ] = None,
    key_quota: Annotated[float | None, typer.Option(help="Requests and turns a minute per API key, all its clients together (0: none).")] = None,
    session_idle: Annotated[float | None, typer.Option(help="Seconds idle before a session (cart, history) expires (default 7 days).")] = None,
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help="Serve a non-loopback address without API keys.")] = False,
) -> None:
    """Serve the assistant: WebSocket /v1/chat, SSE /v1/chat/stream, tools at /v1/tools, docs at /docs, metrics at /metrics."""
    from assistant.server.app import create_app
    from assistant.server.ops import DrainingServer, server_config
    from assistant.server.services import load_services
    from assistant.server.settings import ServerSettings

    server = ServerSettings.from_env(key_file=api_key_file)
    changes: dict[str, Any] = {"insecure_no_auth": insecure_no_auth or server.insecure_no_auth}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if cors_origin:
        changes["cors_origins"] = cors_origin
    if session_idle is not None:
        changes["session_idle_s"] = session_idle
    if trusted_proxy:
        changes["trusted_proxies"] = trusted_proxy
    if key_quota is not None:
        changes["key_quota"] = {"per_minute": key_quota, "burst": server.key_quota.burst}
    if rate_limit is not None or rate_burst is not None:
        limit = server.rate_limit
        changes["rate_limit"] = {"per_minute": limit.per_minute if rate_limit is None else rate_limit, "burst": rate_burst or limit.burst}
    s = state.settings
    if s.sessions and s.sessions.split("://", 1)[0] in ("postgresql", "postgres"):
        changes["shared_state"] = s.sessions  # replicas on one sessions database share limits and open sockets too
    server = server.updated(changes)
    server.check_exposure()  # before loading any model: a refused exposure fails in a second
    if not server.api_keys and not server.loopback:
        typer.echo(f"warning: serving {server.host} without API keys (--insecure-no-auth)", err=True)
    app_ = create_app(services=lambda: load_services(s, policies), server=server)
    DrainingServer(server_config(app_, server), app_.state.ops).run()


if __name__ == "__main__":
    main()
