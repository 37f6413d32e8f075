"""Attention-based fusion of a photo and words (the founding design's attention fusion, as
ViLT and ALBEF fuse): the words attend to the photo's patches and the patches to the words,
and what they agree on becomes one query vector in the catalogue CLIP's space.

"Like this but in red" is a change to a photo, not a second query: early fusion adds the two
vectors and hopes that red lands on the right garment; here the words can pick out the part
of the photo they change and the photo the sense of the words. The output starts as early
fusion (a learned gate on the correction starts at zero), so an untrained model is the early
baseline and training can only move it where the composed pairs say.

Two heads, as ALBEF has:
- the query vector (contrastive: trained against the catalogue's own product vectors, so it is
  searched in the index like any other vector);
- a matching head: given the fused state and a candidate product's vector, the logit that the
  product is what was asked for; used to re-rank the head of a list.

Owns the module, its configuration and its file; not the tokens (`clip.tokens`) nor training
(`clip.train_fusion`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from assistant.clip.tokens import unit
from assistant.errors import ModelError

PATCHES = 49  # the 7x7 cells of the Lite0 trunk's last map
DEFAULT_FUSION_MODEL = Path(__file__).parent / "weights" / "kagl-clip-lite0-fusion.safetensors"


@dataclass(frozen=True)
class FusionModelConfig:
    dim: int = 256  # the CLIP's joint space
    width: int = 192  # the attention layers' width
    heads: int = 4
    layers: int = 2
    early_image_weight: float = 0.7  # the photo's share of the early-fused start (as retrieval's)
    dropout: float = 0.1


class _CrossBlock(nn.Module):
    """Words attend to patches, then patches attend to the words; each followed by an MLP."""

    def __init__(self, w: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.t_norm, self.p_norm, self.t_norm2, self.p_norm2 = (nn.LayerNorm(w) for _ in range(4))
        self.t2p = nn.MultiheadAttention(w, heads, dropout=dropout, batch_first=True)
        self.p2t = nn.MultiheadAttention(w, heads, dropout=dropout, batch_first=True)
        self.t_mlp = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 2 * w), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * w, w))
        self.p_mlp = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 2 * w), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * w, w))

    def forward(self, t: torch.Tensor, pad: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pn = self.p_norm(p)
        t = t + self.t2p(self.t_norm(t), pn, pn, need_weights=False)[0]
        t = t + self.t_mlp(t)
        tn = self.t_norm2(t)
        p = p + self.p2t(self.p_norm2(p), tn, tn, key_padding_mask=pad, need_weights=False)[0]
        p = p + self.p_mlp(p)
        return t, p


class AttentionFusion(nn.Module):
    def __init__(self, cfg: FusionModelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or FusionModelConfig()
        d, w = cfg.dim, cfg.width
        self.p_in, self.t_in = nn.Linear(d, w), nn.Linear(d, w)
        self.pos = nn.Parameter(torch.zeros(1, PATCHES, w))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(_CrossBlock(w, cfg.heads, cfg.dropout) for _ in range(cfg.layers))
        self.out = nn.Sequential(nn.LayerNorm(2 * w), nn.Linear(2 * w, w), nn.GELU(), nn.Linear(w, d))
        self.gate = nn.Parameter(torch.zeros(()))
        self.match_head = nn.Sequential(nn.Linear(3 * d, w), nn.GELU(), nn.Linear(w, 1))

    def early(self, image: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        a = self.cfg.early_image_weight
        return unit(a * image + (1 - a) * words)

    def forward(
        self, patches: torch.Tensor, image: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, words: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(query vector [n, d] unit length, fused state [n, d]) for photos and their words."""
        p = self.p_in(patches) + self.pos
        t = self.t_in(tokens)
        pad = ~mask
        for b in self.blocks:
            t, p = b(t, pad, p)
        m = mask.unsqueeze(-1).float()
        pooled = torch.cat([(t * m).sum(1) / m.sum(1).clamp_min(1.0), p.mean(1)], dim=-1)
        state = self.out(pooled)
        return unit(self.early(image, words) + self.gate * state), state

    def match(self, state: torch.Tensor, query: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Matching logits [n, c] of each query's fused state against its `candidates` [n, c, d]."""
        s = state.unsqueeze(1).expand(-1, candidates.shape[1], -1)
        q = query.unsqueeze(1).expand_as(candidates)
        return self.match_head(torch.cat([s, candidates, q * candidates], dim=-1)).squeeze(-1)

    def save(self, path: Path, report: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path), metadata={"config": json.dumps(asdict(self.cfg))})
        if report is not None:
            path.with_suffix(".report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AttentionFusion:
        if not path.is_file():
            raise ModelError(f"no attention fusion model at {path}; train one with `shop-assistant train-fusion`")
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            model = cls(FusionModelConfig(**json.loads(meta.get("config", "{}"))))
            model.load_state_dict(load_file(str(path)))
        except (OSError, ValueError, RuntimeError, TypeError, SafetensorError) as e:
            raise ModelError(f"the attention fusion model at {path} does not load: {e}") from e
        return model.eval()
