"""The run folder of ``dr-sim adapt train``: train a translator as a config says, save it, load it back.

This is the run folder of the paired methods (``rcan``, ``pix2pix``); ``method: cyclegan`` writes its
own (``dr_sim.adapt.cycle_run``), and ``train`` and ``load_generator`` serve both.

``RUN`` (the config's ``out``) receives

- ``config.yaml``: the resolved config, every default filled in (the method's loss weights included);
- ``git.txt`` (the commit, and whether the work tree had changes) and ``command.txt`` (the command line);
- ``model.pt``: the generator's weights, the resolved config and the image size (px);
- ``metrics.json``: per-epoch loss terms and validation L1 (8-bit levels), the validation L1 of the
  untranslated inputs, wall times (s) and training images/s;
- ``examples.png``: validation pairs, randomized input (top row), translation, canonical render (bottom);
- ``pairs/``: the paired renders, when the config renders them and names no other folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dr_sim.adapt.config import AdaptConfig, CycleConfig, load_adapt_config
from dr_sim.adapt.cycle_run import load_cycle_generator, train_cyclegan
from dr_sim.adapt.data import ensure_pairs, load_pairs
from dr_sim.adapt.run_folder import EXAMPLES, EXAMPLES_FILE, FORMAT, METRICS_FILE, MODEL_FILE, sheet
from dr_sim.adapt.training import fit, make_generator, translate
from dr_sim.errors import ConfigError
from dr_sim.file_io import encode_png, write_atomically
from dr_sim.run_files import write_run_files

Log = Callable[[str], None]


def train(source: str | Path | dict[str, Any] | AdaptConfig | CycleConfig, log: Log | None = None) -> Path:
    """Train the translator a config describes; returns the run folder (module docstring, or
    ``dr_sim.adapt.cycle_run``'s for ``method: cyclegan``)."""
    config = load_adapt_config(source)
    if isinstance(config, CycleConfig):
        return train_cyclegan(config, log)
    run = Path(config.out)
    if run.exists() and not run.is_dir():
        raise ConfigError(f"out {str(run)!r} is a file; give a folder for the run")
    pair_root, render_seconds = ensure_pairs(config.data, run / "pairs", log)
    pairs = load_pairs(pair_root)
    resolved = config.model_dump(mode="json")
    write_run_files(resolved, run)
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        translator, metrics = fit(config, pairs, log)
    finally:
        torch.set_num_threads(previous)
    checkpoint = {
        "format": FORMAT,
        "config": resolved,
        "image_size": pairs.image_size,
        "generator": translator.generator.state_dict(),
    }
    torch.save(checkpoint, run / MODEL_FILE)
    shown = np.array(metrics.pop("val_index") or range(len(pairs)))[:EXAMPLES]
    index = torch.from_numpy(shown)
    images = [pairs.inputs[index], translate(translator.generator, pairs.inputs[index]), pairs.targets[index]]
    picture = sheet([row.permute(0, 2, 3, 1).numpy() for row in images])
    write_atomically(run / EXAMPLES_FILE, encode_png(picture))
    metrics.update(
        method=config.method,
        pairs=str(pair_root),
        render_seconds=render_seconds,
        parameters=sum(p.numel() for p in translator.generator.parameters()),
        threads=config.threads,
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    (run / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    return run


def load_generator(run: str | Path) -> tuple[Any, dict[str, Any]]:
    """(the generator in eval mode, the checkpoint's ``config`` and ``image_size``) of a run folder
    (or its ``model.pt``); one ``ConfigError`` when it is not a run of ``dr-sim adapt train``."""
    path = Path(run)
    path = path / MODEL_FILE if path.is_dir() else path
    if not path.is_file():
        raise ConfigError(f"{str(run)!r} is not a run of 'dr-sim adapt train': it has no {MODEL_FILE}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not a checkpoint
        raise ConfigError(f"{str(path)!r} is not a readable model file ({type(error).__name__})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ConfigError(f"{str(path)!r} is not a translator of 'dr-sim adapt train' (a pose or RL model?)")
    config = load_adapt_config(checkpoint["config"])
    if isinstance(config, CycleConfig):
        return load_cycle_generator(checkpoint, config), {
            "config": checkpoint["config"],
            "image_size": int(checkpoint["image_size"]),
        }
    generator = make_generator(config)
    generator.load_state_dict(checkpoint["generator"])
    generator.eval()
    return generator, {"config": checkpoint["config"], "image_size": int(checkpoint["image_size"])}
