"""The composition root: settings → index, encoders, retriever. Nothing is built at import."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.clip.classifier import AttributeClassifier
from assistant.clip.colour_reader import ColourReader
from assistant.clip.photo_tower import PhotoTower
from assistant.config import Settings
from assistant.encoders.clip import ClipEncoder
from assistant.encoders.sparse import Bm25Encoder
from assistant.encoders.text import SentenceEncoder
from assistant.index.base import ProductIndex
from assistant.retrieval.attention import AttentionComposer
from assistant.retrieval.search import Retriever


def open_index(settings: Settings) -> ProductIndex:
    """The embedded engine at `index.path`, or the server at `index.qdrant_url`."""
    if settings.index.qdrant_url:
        from assistant.index.remote import RemoteIndex

        return RemoteIndex.connect(settings.index.qdrant_url, settings.index.qdrant_api_key, layout=settings.index.cluster)
    from assistant.index.edge import EdgeIndex

    return EdgeIndex(settings.index.path)


@dataclass
class Encoders:
    clip: ClipEncoder
    text: SentenceEncoder
    sparse: Bm25Encoder
    classifier: AttributeClassifier | None = None  # fills missing attributes at ingest


def load_encoders(settings: Settings) -> Encoders:
    import torch

    from assistant.clip.model import DEFAULT_CLASSIFIER, KAGL_CLIP, load_open_clip

    torch.set_num_threads(settings.threads)
    # The packaged classifier reads the packaged CLIP's features; another CLIP needs its own.
    classifier = None
    if settings.clip.model == KAGL_CLIP and settings.clip.pretrained is None and DEFAULT_CLASSIFIER.is_file():
        classifier = AttributeClassifier.load(DEFAULT_CLASSIFIER)
    return Encoders(
        clip=ClipEncoder(load_open_clip(settings.clip.model, settings.clip.pretrained)),
        text=SentenceEncoder(),
        sparse=Bm25Encoder(),
        classifier=classifier,
    )


def build_retriever(settings: Settings, index: ProductIndex | None = None, encoders: Encoders | None = None) -> Retriever:
    index = index or open_index(settings)
    enc = encoders or load_encoders(settings)
    return Retriever(
        index,
        settings.collection,
        enc.clip,
        enc.text,
        enc.sparse,
        attention=load_attention(settings, enc),
        colour_reader=load_colour_reader(settings),
        photo_tower=load_photo_tower(settings, enc),
    )


def _packaged_clip(settings: Settings) -> bool:
    """Whether the packaged catalogue CLIP runs: the models trained on its vectors read only it."""
    from assistant.clip.model import KAGL_CLIP

    return settings.clip.model == KAGL_CLIP and settings.clip.pretrained is None


def load_colour_reader(settings: Settings) -> ColourReader | None:
    """The colour reader of a photo's colour, where the packaged CLIP (whose vectors it reads) runs."""
    from assistant.clip.colour_reader import DEFAULT_COLOUR_READER

    if not _packaged_clip(settings) or not DEFAULT_COLOUR_READER.is_file():
        return None
    return ColourReader.load(DEFAULT_COLOUR_READER)


def load_photo_tower(settings: Settings, enc: Encoders) -> PhotoTower | None:
    """The image tower for shoppers' photos, where the packaged CLIP (whose space it maps into) runs."""
    from assistant.clip.photo_tower import DEFAULT_PHOTO_TOWER, PhotoTower

    loaded = getattr(enc.clip, "clip", None)  # the open_clip model under the encoder
    if not settings.clip.photo_tower or not _packaged_clip(settings) or loaded is None or not DEFAULT_PHOTO_TOWER.is_file():
        return None
    return PhotoTower.load(DEFAULT_PHOTO_TOWER, loaded)


def load_attention(settings: Settings, enc: Encoders) -> AttentionComposer | None:
    """The `attention` fusion mode's model, where the packaged CLIP runs and the model is there."""
    from assistant.clip.fusion_model import DEFAULT_FUSION_MODEL

    loaded = getattr(enc.clip, "clip", None)  # the open_clip model under the encoder
    if not _packaged_clip(settings) or loaded is None or not DEFAULT_FUSION_MODEL.is_file():
        return None
    return AttentionComposer.load(loaded, DEFAULT_FUSION_MODEL)
