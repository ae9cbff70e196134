"""The pose network and its training and evaluation functions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dr_sim.errors import ConfigError
from dr_sim.policies.pose_net import (
    NetConfig,
    PoseNet,
    TargetScaler,
    heatmap_loss,
    images_to_tensor,
    load_checkpoint,
    mask_heatmap,
    net_config,
    point_heatmap,
    predict_xy,
    save_checkpoint,
)
from dr_sim.policies.pose_training import (
    PoseData,
    _batch,
    config_kind,
    error_stats,
    evaluate,
    fit,
    load_pose_data,
    load_train_config,
    mirror_order,
    project,
    run_train,
    score,
    train,
)

torch.set_num_threads(2)
SMALL = NetConfig(channels=[8, 8], keypoints=4, hidden=16, image_size=32)


def _blob_images(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images of a bright square on a dark background and its centre mapped to metres (±0.2 m)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(4, size - 4, (count, 2))
    images = np.zeros((count, size, size, 3), np.uint8)
    for image, (col, row) in zip(images, centres, strict=True):
        image[row - 2 : row + 2, col - 2 : col + 2] = 255
    xy = (centres / (size - 1) - 0.5) * 0.4
    return images, xy


def _pose_data(count: int = 32, size: int = 32, seed: int = 0) -> PoseData:
    images, xy = _blob_images(count, size, seed)
    distractors = np.arange(count) % 2
    return PoseData(images_to_tensor(images), xy, distractors, np.ones(count, np.int64))


def _config(tmp_path: Path, **changes: object) -> dict[str, object]:
    settings: dict[str, object] = {
        "kind": "pose",
        "data": {"path": str(tmp_path / "data")},
        "out": str(tmp_path / "run"),
        "epochs": 1,
        "batch_size": 8,
        "threads": 2,
        "model": SMALL.model_dump(),
    }
    settings.update(changes)
    return settings


def test_output_shape_for_uint8_and_float_images() -> None:
    net = PoseNet(NetConfig())
    images = torch.zeros((3, 3, 64, 64), dtype=torch.uint8)
    assert net(images).shape == (3, 2)
    assert net(images.float()).shape == (3, 2)


def test_wrong_image_size_is_one_clear_error() -> None:
    net = PoseNet(SMALL)
    with pytest.raises(ConfigError, match="32 x 32"):
        net(torch.zeros((1, 3, 64, 64)))


def test_loss_drops_when_overfitting_32_images(tmp_path: Path) -> None:
    data = _pose_data(32)
    torch.manual_seed(0)
    net = PoseNet(SMALL)
    config = load_train_config(_config(tmp_path, epochs=25, batch_size=8, lr=0.01, threads=1))
    _, metrics = fit(net, data, np.arange(32), config)
    losses = [row["loss"] for row in metrics["history"]]
    assert losses[-1] < 0.1 * losses[0]
    assert metrics["images_per_s"] > 0


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = PoseNet(SMALL)
    net.train()
    net(torch.rand(8, 3, 32, 32))  # move the batch-norm statistics away from their defaults
    scaler = TargetScaler((0.01, -0.02), (0.1, 0.12))
    images = images_to_tensor(_blob_images(5, 32, 3)[0])
    before = predict_xy(net, scaler, images)
    save_checkpoint(tmp_path / "model.pt", net, scaler, {"note": "test"})
    loaded, loaded_scaler, config = load_checkpoint(tmp_path / "model.pt")
    assert config == {"note": "test"}
    assert loaded_scaler == scaler
    np.testing.assert_array_equal(predict_xy(loaded, loaded_scaler, images), before)


def test_scaler_round_trip() -> None:
    xy = np.array([[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2]])
    scaler = TargetScaler.fit(xy)
    encoded = scaler.encode(torch.tensor(xy))
    np.testing.assert_allclose(encoded.mean(0).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaler.decode(encoded).numpy(), xy, atol=1e-12)


def test_error_in_cm_on_a_known_case() -> None:
    true = np.zeros((4, 2))
    predicted = np.array([[0.03, 0.04], [0.0, 0.01], [0.0, 0.0], [1.0, 1.0]])  # 5 cm, 1 cm, 0 cm, hidden
    result = score(predicted, true, distractors=np.array([0, 2, 0, 1]), visible=np.array([1, 1, 1, 0]))
    assert result["target_hidden"] == 1
    subsets = result["subsets"]
    assert subsets["all"]["n"] == 3
    assert subsets["all"]["mean_cm"] == pytest.approx(2.0)
    assert subsets["all"]["median_cm"] == pytest.approx(1.0)
    assert subsets["object_only"]["mean_cm"] == pytest.approx(2.5)
    assert subsets["with_distractors"]["mean_cm"] == pytest.approx(1.0)
    assert error_stats(np.zeros(0))["mean_cm"] is None


def test_evaluate_reads_a_run_and_a_data_set(tmp_path: Path) -> None:
    pytest.importorskip("dr_sim.datasets.shards")
    from dr_sim.datasets.shards import Shard, make_meta, shard_path, write_shard

    images, xy = _blob_images(6, 32, 4)
    camera = {"K": [[32.0, 0.0, 16.0], [0.0, 32.0, 16.0], [0.0, 0.0, 1.0]], "pose": np.eye(4).tolist()}
    labels = [
        {
            "target": {"position": [float(x), float(y), 0.02]},
            "objects": [{"category": 1, "pixels": 16}] + [{"category": 2, "pixels": 5}] * (i % 2),
            "camera": camera,
        }
        for i, (x, y) in enumerate(xy)
    ]
    root = tmp_path / "data"
    (root / "shards").mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps(make_meta({"shard_size": 6, "image_size": 32}, 6)))
    zeros = np.zeros((6, 32, 32), np.uint8)
    instance = (images[..., 0] > 0).astype(np.uint8)
    write_shard(shard_path(root, 0), Shard(np.arange(6), images, zeros.astype(np.uint16), instance, zeros, labels))
    loaded = load_pose_data(root, masks=True, landmarks=[[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    assert loaded.target_mask is not None
    assert loaded.landmarks_px is not None
    assert torch.equal(loaded.target_mask, torch.from_numpy(images[..., 0] > 0))
    np.testing.assert_allclose(loaded.landmarks_px[0, 0], [16.0, 16.0])  # on the optical axis
    assert np.isnan(loaded.landmarks_px[0, 1]).all()  # behind the camera
    torch.manual_seed(0)
    net = PoseNet(SMALL)
    scaler = TargetScaler((0.0, 0.0), (1e-3, 1e-3))
    predicted = predict_xy(net, scaler, images_to_tensor(images))
    save_checkpoint(tmp_path / "model.pt", net, scaler, {})
    result = evaluate(tmp_path, {"set": root})["set"]
    assert result["subsets"]["object_only"]["n"] == 3
    assert result["subsets"]["with_distractors"]["n"] == 3
    expected = 100 * np.linalg.norm(predicted - xy, axis=1).mean()
    assert result["subsets"]["all"]["mean_cm"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "ppo"}, "kind 'ppo' is not supported"),
        ({"epochs": 0}, "epochs"),
        ({"data": {"path": "x", "n": 5}}, "only apply to 'generator'"),
        ({"data": {"generator": "g.yaml"}}, "needs 'n'"),
        ({"data": {}}, "either 'path'"),
        ({"lr": "fast"}, "lr"),
        ({"model": {"channels": [0]}}, "channels"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"landmarks": [[0.0, 1.0]]}, r"\[x, y, z\]"),
        ({"landmarks": [[0.0, 0.0, 0.0]] * 4}, "at least 1 \\+ the 4 landmarks"),
    ],
)
def test_config_errors(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_train_config(_config(tmp_path, **changes))


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_train_config(tmp_path / "missing.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [pose\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_train_config(path)
    path.write_text("epochs: 3\n")
    with pytest.raises(ConfigError, match="needs 'kind'"):
        config_kind(path)
    with pytest.raises(ConfigError, match="keypoints"):
        net_config({"keypoints": 0})
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="not a pose model"):
        load_checkpoint(tmp_path / "junk.pt")


def test_run_train_refuses_other_kinds(tmp_path: Path) -> None:
    path = tmp_path / "rl.yaml"
    path.write_text("kind: sac\n")
    with pytest.raises(ConfigError, match="kind 'sac'"):
        run_train(argparse.Namespace(config=str(path), out=None, quiet=True))


def test_point_heatmap_is_bilinear_and_empty_for_nan() -> None:
    uv = torch.tensor([[4.0, 4.0], [5.0, 4.0], [float("nan"), 1.0]])  # 8 px image, 4 x 4 map: 2 px cells
    maps = point_heatmap(uv, 8, (4, 4))
    assert maps[0, 1, 1] == pytest.approx(0.25)  # (4, 4) px is the corner of four cells
    assert maps[0].sum() == pytest.approx(1.0)
    assert maps[1, 1, 2] == pytest.approx(0.5)  # (5, 4) px: the centre column of cell 2, between rows 1 and 2
    assert maps[2].sum() == 0


def test_heatmap_loss_prefers_the_right_cell_and_skips_empty_targets() -> None:
    target = torch.zeros((2, 4, 4))
    target[0, 2, 3] = 1.0
    right, wrong = torch.zeros((2, 4, 4)), torch.zeros((2, 4, 4))
    right[:, 2, 3], wrong[:, 0, 0] = 5.0, 5.0
    assert heatmap_loss(right, target) < heatmap_loss(wrong, target)
    assert heatmap_loss(right, torch.zeros((2, 4, 4))) == 0
    mask = torch.zeros((1, 8, 8), dtype=torch.bool)
    mask[0, :2, :2] = True
    assert mask_heatmap(mask, (4, 4))[0, 0, 0] == 1.0


def test_projection_and_mirror_pairs() -> None:
    camera = {"K": [[10.0, 0.0, 8.0], [0.0, 10.0, 8.0], [0.0, 0.0, 1.0]], "pose": np.eye(4).tolist()}
    pixels = project(camera, np.array([[0.1, -0.2, 1.0], [5.0, 0.0, 1.0]]), 16)
    np.testing.assert_allclose(pixels[0], [9.0, 6.0])
    assert np.isnan(pixels[1]).all()  # outside the image
    np.testing.assert_array_equal(mirror_order([[-0.6, -0.5, 0.0], [-0.6, 0.5, 0.0], [0.2, 0.0, 0.0]]), [1, 0, 2])
    with pytest.raises(ConfigError, match="mirror pairs"):
        mirror_order([[0.0, 0.3, 0.0]])


def test_flipped_batch_mirrors_images_labels_and_swaps_landmarks() -> None:
    data = _pose_data(8, size=16)
    data.target_mask = data.images[:, 0] > 0
    data.landmarks_px = np.tile(np.array([[[2.0, 3.0], [13.0, 3.0]]]), (8, 1, 1))
    generator = torch.Generator().manual_seed(0)
    flipped = _batch(data, torch.arange(8), np.array([1, 0]), generator)
    plain = _batch(data, torch.arange(8), None, generator)
    mirrored = flipped.xy[:, 1] != plain.xy[:, 1]
    assert 0 < int(mirrored.sum()) < 8
    for i in range(8):
        image = plain.images[i].flip(-1) if mirrored[i] else plain.images[i]
        assert torch.equal(flipped.images[i], image)
        assert flipped.mask is not None
        assert torch.equal(flipped.mask[i], image[0] > 0)
    assert flipped.landmarks is not None
    # landmark 0 of a flipped image is the mirror of landmark 1: column 16 - 13 = 3
    np.testing.assert_allclose(flipped.landmarks[mirrored][:, 0].numpy(), [[3.0, 3.0]] * int(mirrored.sum()))


def test_train_from_a_generator_config_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dr_sim.policies.pose_training import add_evaluate_arguments, is_pose_run, run_evaluate

    generator = {"randomization": {"distractors": {"count": {"type": "constant", "value": 2}}}, "image_size": 32}
    config = _config(
        tmp_path,
        data={"generator": generator, "n": 24},
        landmarks=[[-0.65, -0.5, 0.0], [-0.65, 0.5, 0.0]],
        flip=True,
        val_fraction=0.25,
    )
    config.pop("model")
    config["model"] = {"channels": [8], "keypoints": 4, "hidden": 8}
    caller_state = torch.random.get_rng_state()
    run = train(config)
    assert torch.equal(torch.random.get_rng_state(), caller_state)  # the caller's torch RNG is left alone
    again = train({**config, "data": {"path": str(run / "data")}, "out": str(tmp_path / "again")})
    weights, weights_again = (torch.load(r / "model.pt", weights_only=False)["state_dict"] for r in (run, again))
    assert all(torch.equal(weights[key], weights_again[key]) for key in weights)  # the seed alone decides them
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_images"] == 18
    assert metrics["val"]["images"] == 6
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    assert run_evaluate(parser.parse_args([str(run), "--data", f"train={run / 'data'}", "--json"])) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["train"]["subsets"]["all"]["n"] == 24
    assert is_pose_run(run)
    assert not is_pose_run(tmp_path)
    with pytest.raises(ConfigError, match="give --data"):
        run_evaluate(parser.parse_args([str(run)]))
