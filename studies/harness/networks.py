"""What a study records of a network that ``dr-sim train`` trained: its timings from ``metrics.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"  # what pose, belief and detect runs write beside model.pt


def training_record(run: str | Path, generate_s: float) -> dict[str, Any]:
    """The study's record of one trained network: seconds rendering its data (``generate_s``) and
    training it, its training images per second and how many images it trained on (from the run's
    ``metrics.json``)."""
    metrics = json.loads((Path(run) / METRICS_FILE).read_text())
    return {
        "generate_s": generate_s,
        "train_s": metrics["train_seconds"],
        "images_per_s": metrics["images_per_s"],
        "train_images": metrics["train_images"],
    }
