"""The CenterNet-style detector: decoding, a loss that falls, checkpoints, and the kind: detect run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dr_sim.datasets.generate import generate
from dr_sim.errors import ConfigError
from dr_sim.policies.detector_data import DetectionData, load_detection_data
from dr_sim.policies.detector_net import (
    DetectorNet,
    DetectorNetConfig,
    DetectorOutput,
    decode,
    encode_targets,
    load_detector_checkpoint,
    predict,
    save_detector_checkpoint,
)
from dr_sim.policies.detector_training import (
    DetectTrainConfig,
    add_evaluate_arguments,
    evaluate_detector,
    fit,
    is_detect_run,
    load_detect_config,
    run_evaluate,
    train_detector,
    validation_loss,
)

SIZE = 96
COUNT = 24
CLASSES = ["duck", "teddy", "mug"]
GENERATOR = {
    "env": "dr_sim/Detect-v0",
    "randomization": "none",
    "image_size": SIZE,
    "shard_size": 12,
    "objects": [f"{name}_{k}" for name in ["duck", "teddy", "mug", "shape"] for k in range(2)],
    "visibility": "none",
}
SMALL = {"widths": [8, 16, 16, 32], "head": 16}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("detect_train")
    generate(GENERATOR, folder, COUNT, progress=False)
    return folder


@pytest.fixture(scope="module")
def data(root: Path) -> DetectionData:
    return load_detection_data(root, CLASSES)


def config(root: Path, out: Path, **overrides: Any) -> DetectTrainConfig:
    settings = {
        "kind": "detect",
        "data": {"path": str(root)},
        "classes": CLASSES,
        "epochs": 1,
        "batch_size": 8,
        "val_fraction": 0.25,
        "threads": 1,
        "out": str(out),
        "model": SMALL,
    }
    return load_detect_config({**settings, **overrides})


def test_decoding_the_targets_of_known_boxes_gives_those_boxes() -> None:
    boxes = np.array([[10, 20, 30, 44], [50, 8, 62, 20], [70, 60, 91, 88], [12, 70, 13, 71]], dtype=np.float64)
    classes = np.array([0, 1, 0, 1])
    shape = (SIZE // 4, SIZE // 4)
    targets = encode_targets(boxes, classes, 2, shape)
    assert targets.heatmap.max() == 1.0
    assert (targets.heatmap == 1.0).sum() == len(boxes)
    size, offset = torch.zeros(1, 2, *shape), torch.zeros(1, 2, *shape)
    rows, cols = np.divmod(targets.cell, shape[1])
    size[0, :, rows, cols] = torch.from_numpy(targets.size).T
    offset[0, :, rows, cols] = torch.from_numpy(targets.offset).T
    heatmap = torch.logit(torch.from_numpy(targets.heatmap).clamp(1e-6, 1 - 1e-6))[None]
    found = decode(DetectorOutput(heatmap, size, offset), (SIZE, SIZE), k=6)
    count = len(boxes)
    assert torch.all(found.scores[0, :count] > 0.99)
    assert torch.all(found.scores[0, count:] < 0.01)  # no other peaks
    decoded = sorted(zip(found.boxes[0, :count].tolist(), found.classes[0, :count].tolist(), strict=True))
    expected = sorted(zip(boxes.tolist(), classes.tolist(), strict=True))
    for (got, got_class), (want, want_class) in zip(decoded, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)
        assert got_class == want_class


def test_thirty_training_steps_lower_the_loss_of_a_fixed_batch(root: Path, data: DetectionData, tmp_path: Path) -> None:
    settings = config(root, tmp_path / "unused", epochs=10, lr=5e-3)  # 3 steps of 8 images an epoch
    torch.manual_seed(0)
    net = DetectorNet(len(CLASSES), settings.model)
    fixed = np.arange(8)
    before = validation_loss(net, data, fixed, settings)
    metrics = fit(net, data, np.arange(COUNT), settings)
    after = validation_loss(net, data, fixed, settings)
    assert len(metrics["history"]) == 10
    assert metrics["images_per_s"] > 0
    assert after < 0.75 * before


def test_a_checkpoint_gives_the_same_detections_bit_for_bit(data: DetectionData, tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = DetectorNet(len(CLASSES), DetectorNetConfig(**SMALL))
    net(torch.from_numpy(data.rgb[:8]).permute(0, 3, 1, 2))  # batch-norm statistics that differ from the start
    path = save_detector_checkpoint(tmp_path / "model.pt", net, CLASSES, SIZE, {"note": "test"})
    loaded = load_detector_checkpoint(path)
    assert loaded.classes == CLASSES
    assert loaded.image_size == SIZE
    assert loaded.config == {"note": "test"}
    images = torch.from_numpy(data.rgb).permute(0, 3, 1, 2)
    for mine, theirs in zip(predict(net, images, 20), predict(loaded.net, images, 20), strict=True):
        assert torch.equal(mine, theirs)
    state = torch.load(path, weights_only=True)
    torch.save({**state, "net": {"widths": [8, 16, 16, 64], "head": 16}}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="do not fit its stated architecture"):
        load_detector_checkpoint(tmp_path / "other.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="is not a detector checkpoint"):
        load_detector_checkpoint(tmp_path / "notes.pt")


def test_a_run_folder_its_evaluation_and_its_refusals(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = config(root, tmp_path / "run", eval={"again": {"path": str(root)}})
    run = train_detector(settings)
    for name in ("config.yaml", "git.txt", "command.txt", "model.pt", "checkpoint.pt", "metrics.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kind"] == "detect"
    assert metrics["image_size"] == SIZE
    assert metrics["val_images"] == COUNT // 4
    assert {"loss", "heatmap", "size", "offset", "val_loss", "seconds"} <= set(metrics["history"][0])
    assert metrics["eval"]["again"]["images"] == COUNT
    assert metrics["val"]["images"] == COUNT // 4
    assert load_detector_checkpoint(run / "model.pt").config["image_size"] == SIZE
    assert is_detect_run(run)
    assert not is_detect_run(tmp_path)
    stamp = (run / "model.pt").stat().st_mtime_ns
    assert train_detector(settings) == run
    assert (run / "model.pt").stat().st_mtime_ns == stamp

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    assert run_evaluate(parser.parse_args([str(run), "--data", f"set={root}", "--json"])) == 0
    scores = json.loads(capsys.readouterr().out)["set"]
    assert scores["images"] == COUNT
    assert {"ap", "ap50", "ap75", "per_class"} <= set(scores)
    assert (run / "detections_set.png").is_file()
    sheet = evaluate_detector(run, {"a": root}, sheets={"a": tmp_path / "sheet.png"})
    assert sheet["a"].images == COUNT
    assert (tmp_path / "sheet.png").is_file()

    with pytest.raises(ConfigError, match=r"other settings \(epochs: 1 there, 2 asked\)"):
        train_detector(settings.model_copy(update={"epochs": 2}))
    with pytest.raises(ConfigError, match=r"init_from .* classes"):
        train_detector(config(root, tmp_path / "other", classes=["duck", "teddy"], init_from=str(run)))
    tuned = train_detector(config(root, tmp_path / "tuned", init_from=str(run), lr=1e-4))
    assert len(json.loads((tuned / "metrics.json").read_text())["init_sha256"]) == 64


def test_an_interrupted_run_resumes_to_the_same_weights(root: Path, tmp_path: Path) -> None:
    whole = train_detector(config(root, tmp_path / "whole", epochs=2, val_fraction=0.0))

    def stop_after_first_epoch(line: str) -> None:
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    interrupted = config(root, tmp_path / "parts", epochs=2, val_fraction=0.0)
    with pytest.raises(KeyboardInterrupt):
        train_detector(interrupted, stop_after_first_epoch)
    resumed = train_detector(interrupted)
    mine = load_detector_checkpoint(whole / "model.pt").net.state_dict()
    theirs = load_detector_checkpoint(resumed / "model.pt").net.state_dict()
    assert all(torch.equal(mine[key], theirs[key]) for key in mine)
    history = json.loads((resumed / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]


def test_a_class_missing_from_the_data_is_one_config_error(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="class 'giraffe'"):
        train_detector(config(root, tmp_path / "run", classes=["duck", "giraffe"]))
    with pytest.raises(ConfigError, match="set image_size"):
        train_detector(config(root, tmp_path / "small", data={"path": str(_small_set(tmp_path))}))
    with pytest.raises(ConfigError, match="multiple of 16"):
        config(root, tmp_path / "odd", image_size=100)


def _small_set(folder: Path) -> Path:
    generate({**GENERATOR, "image_size": 64}, folder / "small_data", 2, progress=False)
    return folder / "small_data"


def test_the_example_config_is_valid(example_configs: Path) -> None:
    settings = load_detect_config(example_configs / "detect.yaml")
    assert isinstance(settings.data.generator, str)
    assert (example_configs.parents[1] / settings.data.generator).is_file()
