"""Few-shot fine-tuning (``init_from``) and the canonical keypoints of a symmetric object."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dr_sim.datasets.generate import generate
from dr_sim.errors import ConfigError
from dr_sim.policies.belief_net import BeliefNet, BeliefNetConfig, load_belief_checkpoint
from dr_sim.policies.belief_training import initialise_from, load_belief_config, train_belief
from dr_sim.pose.keypoints import canonical_rotation
from dr_sim.pose.metrics import add_s

TINY = {"stem": [4, 8], "context": 1, "max_dilation": 2}


@pytest.fixture(scope="module")
def pretrained(tiny_duck: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a tiny data set of the duck, a belief run trained on it)."""
    root = tmp_path_factory.mktemp("finetune")
    config = {"kind": "belief", "data": {"path": str(tiny_duck)}, "epochs": 1, "batch_size": 4}
    run = train_belief({**config, "out": str(root / "pretrained"), "model": TINY, "seed": 3})
    return tiny_duck, run


def _weights(net: BeliefNet) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in net.state_dict().items()}


def test_init_from_loads_the_exact_weights_before_training(pretrained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = pretrained
    source, _, _ = load_belief_checkpoint(run / "model.pt")
    torch.manual_seed(0)
    net = BeliefNet(BeliefNetConfig(**TINY))
    digest = initialise_from(net, run)
    for name, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[name], value), name
    assert digest == hashlib.sha256((run / "model.pt").read_bytes()).hexdigest()
    # Through a whole run: one step at a vanishing learning rate keeps the conv weights where they started.
    config = {"kind": "belief", "data": {"path": str(data)}, "epochs": 1, "batch_size": 8, "lr": 1e-12}
    tuned = train_belief({**config, "out": str(tmp_path / "tuned"), "model": TINY, "init_from": str(run)})
    after, _, _ = load_belief_checkpoint(tuned / "model.pt")
    scratch = train_belief({**config, "out": str(tmp_path / "scratch"), "model": TINY})
    fresh, _, _ = load_belief_checkpoint(scratch / "model.pt")
    weight = "encoder.stem.0.0.weight"
    assert torch.allclose(after.state_dict()[weight], source.state_dict()[weight], atol=1e-9)
    assert not torch.allclose(fresh.state_dict()[weight], source.state_dict()[weight])
    metrics = json.loads((tuned / "metrics.json").read_text())
    assert metrics["init_from"] == str(run)
    assert metrics["init_sha256"] == digest
    # Run-folder semantics: the same settings are a no-op, other weights to start from are refused.
    stamp = (tuned / "model.pt").stat().st_mtime_ns
    assert train_belief({**config, "out": str(tuned), "model": TINY, "init_from": str(run)}) == tuned
    assert (tuned / "model.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match=r"other settings .*init_from"):
        train_belief({**config, "out": str(tuned), "model": TINY, "init_from": str(scratch)})


def test_a_mismatched_network_or_a_missing_run_is_one_clear_error(
    pretrained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = pretrained
    config = {"kind": "belief", "data": {"path": str(data)}, "epochs": 1, "batch_size": 4, "init_from": str(run)}
    with pytest.raises(
        ConfigError, match=r"trained with another network \(model\.context: 1 there, 2 asked\)"
    ) as error:
        train_belief({**config, "out": str(tmp_path / "wide"), "model": {**TINY, "context": 2}})
    assert "\n" not in str(error.value)
    assert not (tmp_path / "wide" / "model.pt").exists()
    with pytest.raises(ConfigError, match=r"holds no model\.pt"):
        train_belief({**config, "out": str(tmp_path / "none"), "model": TINY, "init_from": str(tmp_path)})


def test_a_symmetry_axis_needs_add_s_scoring() -> None:
    base = {"kind": "belief", "data": {"path": "x"}, "out": "y"}
    with pytest.raises(ConfigError, match="set symmetric: true"):
        load_belief_config({**base, "symmetry_axis": "z"})
    assert load_belief_config({**base, "symmetry_axis": "z", "symmetric": True}).symmetry_axis == "z"


def _turn(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    turn = np.eye(3)
    turn[i, i], turn[i, j], turn[j, i], turn[j, j] = c, -s, s, c
    return turn


@pytest.mark.parametrize(("axis", "index"), [("x", 0), ("y", 1), ("z", 2)])
def test_every_turn_about_the_symmetry_axis_has_one_canonical_pose(axis: str, index: int) -> None:
    rng = np.random.default_rng(4)
    view = _turn(0, 2.3) @ _turn(2, 0.4)  # some camera view of the object
    canonical = canonical_rotation(view, axis)
    for angle in rng.uniform(-np.pi, np.pi, 5):
        turned = view @ _turn(index, angle)  # the same look: a turn about the symmetry axis
        np.testing.assert_allclose(canonical_rotation(turned, axis), canonical, atol=1e-9)
    # The canonical pose differs from the view by a turn about the axis only: ADD-S of a ball-like
    # (symmetric) point set is 0 up to its sampling.
    relative = view.T @ canonical
    np.testing.assert_allclose(relative[:, index], np.eye(3)[index], atol=1e-9)
    ring = np.stack(
        [
            np.cos(t) * np.eye(3)[(index + 1) % 3] + np.sin(t) * np.eye(3)[(index + 2) % 3]
            for t in np.linspace(0, 2 * np.pi, 721)
        ]
    )
    pose_a, pose_b = np.eye(4), np.eye(4)
    pose_a[:3, :3], pose_b[:3, :3] = view, canonical
    assert add_s(pose_a, pose_b, ring) < np.pi / 720  # half the ring's point spacing


def test_belief_maps_do_not_collapse_to_zeros(tmp_path: Path, tiny_belief: Callable[..., Any]) -> None:
    """The peaks cover a few cells of each map, so a plain mean squared error is won by maps of zeros; the
    positively weighted loss keeps them: after a short run the centroid maps of the training images peak
    near 1 at the labelled cell."""
    import numpy as np

    from dr_sim.policies.belief_net import STRIDE, predict_beliefs

    generate({"randomization": "none", "image_size": 64, "shard_size": 32}, tmp_path / "data", 32, progress=False)
    net, data, _, _ = tiny_belief(tmp_path / "data", tmp_path / "run", epochs=15)
    centroid = predict_beliefs(net, data.images)[:, 8]
    peaks = centroid.reshape(len(centroid), -1).max(axis=1)
    assert np.median(peaks) > 0.5
    cells = np.stack(np.unravel_index(centroid.reshape(len(centroid), -1).argmax(axis=1), centroid.shape[1:]), 1)
    labelled = np.asarray(data.keypoints)[:, 8, ::-1] / STRIDE - 0.5  # (row, col) in cells
    assert np.median(np.abs(cells - labelled).max(axis=1)) <= 1.0
