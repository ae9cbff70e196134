"""The pyramid belief network, its corner offsets from the centroid, and colour jitter of its training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dr_sim.errors import ConfigError
from dr_sim.policies.belief_net import (
    BeliefNet,
    BeliefNetConfig,
    gaussian_targets,
    load_belief_checkpoint,
    offset_loss,
    predict_beliefs,
)
from dr_sim.policies.belief_training import (
    BeliefTrainConfig,
    ColourJitter,
    fit,
    jitter_colours,
    load_belief_data,
    train_belief,
)
from dr_sim.pose.keypoints import CENTROID, OFFSET_UNIT, gaussian_maps, read_keypoints

PYRAMID = {"architecture": "pyramid", "widths": [4, 8, 8, 8], "head": 8, "corner_offsets": True}


def test_corners_are_the_centroid_plus_offsets_read_at_its_subpixel_cell() -> None:
    stride, shape = 4, (12, 16)
    centroid = np.array([27.3, 18.9])  # px: between cells
    maps = gaussian_maps(np.vstack([np.full((8, 2), np.nan), centroid]), shape, stride)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    slopes = np.linspace(-0.3, 0.3, 16)
    offsets = np.stack([slope * cols + 0.1 * rows - 0.5 for slope in slopes])  # linear: bilinear reads exactly
    uv, confidence = read_keypoints(np.concatenate([maps, offsets]), stride)
    col, row = centroid / stride - 0.5
    expected = (slopes * col + 0.1 * row - 0.5).reshape(8, 2) * OFFSET_UNIT + centroid
    np.testing.assert_allclose(uv[CENTROID], centroid, atol=1e-6)
    np.testing.assert_allclose(uv[:8], expected, atol=1e-5)
    np.testing.assert_allclose(confidence, confidence[CENTROID])  # the corners carry the centroid's
    with pytest.raises(ValueError, match=r"\(9 or 25, h, w\)"):
        read_keypoints(offsets, stride)


def test_offset_loss_is_zero_at_the_truth_and_counts_only_cells_near_the_centroid() -> None:
    keypoints = torch.tensor([[[4.0, 6.0], [20.0, 6.0], [4.0, 22.0], [20.0, 22.0]] * 2 + [[12.0, 14.0]]])
    target = gaussian_targets(keypoints, (8, 8), 4, 1.0)
    truth = ((keypoints[0, :8] - keypoints[0, 8]) / OFFSET_UNIT).reshape(16, 1, 1).expand(16, 8, 8)
    outputs = torch.cat([target, truth.unsqueeze(0)], dim=1)
    assert float(offset_loss(outputs, keypoints, target[:, CENTROID])) == 0.0
    far = outputs.clone()
    far[0, 9:, 0, 0] += 5.0  # a corner cell, far from the centroid: not trained
    assert float(offset_loss(far, keypoints, target[:, CENTROID])) == 0.0
    near = outputs.clone()
    near[0, 9:, 3, 2] += 1.0  # the centroid's cell (row 3, column 2.5 - 0.5)
    assert float(offset_loss(near, keypoints, target[:, CENTROID])) > 0.0


def test_a_pyramid_net_learns_the_corner_offsets_of_its_training_images(tiny_duck: Path) -> None:
    data = load_belief_data(tiny_duck)
    config = BeliefTrainConfig(
        kind="belief",
        data={"path": str(tiny_duck)},
        epochs=60,
        batch_size=8,
        lr=1e-2,
        offset_weight=10.0,
        out="unused",
        model=PYRAMID,
    )
    torch.manual_seed(0)
    net = BeliefNet(config.model)
    keypoints = torch.from_numpy(data.keypoints).float()

    def loss() -> float:
        net.eval()
        with torch.no_grad():
            outputs = net(data.images)
        target = gaussian_targets(keypoints, outputs.shape[-2:], 4, config.sigma)
        return float(offset_loss(outputs, keypoints, target[:, CENTROID]))

    before = loss()
    fit(net, data, np.arange(len(data)), config)
    assert loss() < 0.5 * before


def test_a_jittered_pyramid_run_is_seeded_reloads_exactly_and_is_scored(tiny_duck: Path, tmp_path: Path) -> None:
    config = {
        "kind": "belief",
        "data": {"path": str(tiny_duck)},
        "eval": {"train": {"path": str(tiny_duck)}},
        "epochs": 2,
        "batch_size": 4,
        "colour": {},
        "model": PYRAMID,
    }
    first = train_belief({**config, "out": str(tmp_path / "a")})
    second = train_belief({**config, "out": str(tmp_path / "b")})
    net, _, stored = load_belief_checkpoint(first / "model.pt")
    twin, _, _ = load_belief_checkpoint(second / "model.pt")
    for name, value in net.state_dict().items():
        assert torch.equal(twin.state_dict()[name], value), name
    assert stored["model"]["corner_offsets"]
    assert stored["colour"]["gain"] == ColourJitter().gain
    outputs = predict_beliefs(net, load_belief_data(tiny_duck).images)
    assert outputs.shape == (8, 25, 8, 8)
    scores = json.loads((first / "metrics.json").read_text())["eval"]["train"]
    assert (
        scores["calibrated_camera"]["translation_cm"]["n"] + scores["calibrated_camera"]["translation_cm"]["failed"] > 0
    )


def test_colour_jitter_changes_pixels_within_range_and_follows_its_generator() -> None:
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    jitter = ColourJitter()
    first = jitter_colours(images, jitter, torch.Generator().manual_seed(5))
    again = jitter_colours(images, jitter, torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    assert float(first.min()) >= 0.0
    assert float(first.max()) <= 1.0
    assert float((first - images.float() / 255.0).abs().mean()) > 0.02
    still = ColourJitter(gain=0.0, saturation=[1.0, 1.0], brightness=0.0, noise=0.0)
    torch.testing.assert_close(jitter_colours(images, still, torch.Generator()), images.float() / 255.0)
    with pytest.raises(ValueError, match="saturation"):
        ColourJitter(saturation=[1.5, 0.5])


def test_a_pyramid_needs_sides_of_multiples_of_16_px() -> None:
    net = BeliefNet(BeliefNetConfig(**PYRAMID))
    with pytest.raises(ConfigError, match="multiples of 16 px, got 36 x 36"):
        net(torch.zeros(1, 3, 36, 36))
