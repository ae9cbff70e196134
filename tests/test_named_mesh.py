"""Named-mesh targets and distractors of Localize, and a tiny belief-map training run on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pybullet_data
import pytest

from dr_sim.cli import main
from dr_sim.datasets.generate import generate
from dr_sim.envs.localize import LocalizeEnv
from dr_sim.envs.named_meshes import load_mesh, read_obj_vertices
from dr_sim.errors import ConfigError
from dr_sim.policies.belief_training import (
    evaluate_belief,
    format_belief_scores,
    train_belief,
)
from dr_sim.scene.labels import local_box

DUCK = {"target_mesh": "duck_vhacd.urdf", "target_rpy": [1.5708, 0.0, 0.0]}


@pytest.fixture(scope="module")
def duck() -> LocalizeEnv:
    env = LocalizeEnv(
        **DUCK,
        distractor_meshes=["objects/mug.urdf", "teddy_vhacd.urdf"],
        distractor_mesh_scale=0.6,
        distractor_mesh_count=2,
        image_size=96,
        randomization="visual",
    )
    yield env
    env.close()


def test_a_named_mesh_appears_in_segmentation_under_its_own_id(duck: LocalizeEnv) -> None:
    seen_distractors = set()
    for seed in range(4):
        _, info = duck.reset(seed=seed)
        body = duck.sim_bodies["object"]
        frame = duck.session.last_frame
        assert info["mask_ids"]["target"] == body
        assert np.count_nonzero(frame.body == body) == info["target_pixels"] > 20
        seen_distractors |= set(info["mask_ids"]["distractors"]) & set(duck.distractor_bodies[-2:])
        # The target rests upright on the table: its centre at half its box's height.
        assert info["target_position"][2] == pytest.approx(duck.target_mesh.half_extents[2])
    assert seen_distractors, "no named-mesh distractor was ever seen"


def test_the_keypoint_box_is_the_mesh_own_bounding_box(duck: LocalizeEnv) -> None:
    low, high = local_box(duck.physics_client._client, duck.sim_bodies["object"])
    mesh = duck.target_mesh
    np.testing.assert_allclose(low, mesh.low, atol=1e-9)
    np.testing.assert_allclose(high, mesh.high, atol=1e-9)
    np.testing.assert_allclose(mesh.points.min(axis=0), mesh.low, atol=1e-9)  # the vertices touch it
    # The duck's visual mesh, 5 cm a unit, stood up: about 8.3 x 6.1 x 7.7 cm.
    raw = read_obj_vertices(Path(pybullet_data.getDataPath()) / "duck.obj", "mesh") * 0.05
    extent = raw.max(axis=0) - raw.min(axis=0)
    np.testing.assert_allclose(2 * mesh.half_extents, extent[[0, 2, 1]], atol=1e-4)


def test_named_mesh_episodes_replay_from_their_record(duck: LocalizeEnv) -> None:
    first, info = duck.reset(seed=11)
    positions = [duck.physics_client.getBasePositionAndOrientation(b)[0] for b in duck.distractor_bodies[-2:]]
    duck.reset(seed=12)
    again, _ = duck.reset(options={"randomization": info["randomization"]})
    assert np.array_equal(first, again)
    assert positions == [duck.physics_client.getBasePositionAndOrientation(b)[0] for b in duck.distractor_bodies[-2:]]


def test_a_folder_of_meshes_gives_distractors() -> None:
    folder = Path(pybullet_data.getDataPath()) / "random_urdfs" / "000"
    env = LocalizeEnv(distractor_meshes=[str(folder)], distractor_mesh_scale=0.5, obs_type="state")
    try:
        assert len(env.distractor_meshes) == 1  # 000.urdf; its own 000.obj beside it is not a second mesh
        assert env.distractor_meshes[0].path.name == "000.urdf"
    finally:
        env.close()


def test_a_missing_or_unreadable_mesh_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"target_mesh 'no/such/duck.urdf' does not exist .*duck_vhacd.urdf") as error:
        LocalizeEnv(target_mesh="no/such/duck.urdf")
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match=r"is not an \.obj or \.urdf file"):
        LocalizeEnv(target_mesh="duck.dae")
    garbage = tmp_path / "garbage.obj"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match=rf"{garbage.name}.* cannot be read as an OBJ"):
        LocalizeEnv(target_mesh=str(garbage))
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no mesh"):
        load_mesh(empty)
    broken = tmp_path / "broken.urdf"
    broken.write_text("<robot><link>")
    with pytest.raises(ConfigError, match="is not a readable URDF"):
        LocalizeEnv(target_mesh=str(broken))
    with pytest.raises(ConfigError, match=r"distractor_meshes 'nothing\.obj' does not exist"):
        LocalizeEnv(distractor_meshes=["nothing.obj"])
    with pytest.raises(ConfigError, match="scale must be a number > 0"):
        LocalizeEnv(target_mesh="duck_vhacd.urdf", target_scale=0)


def test_a_tiny_belief_training_run_lowers_the_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_belief: Callable[..., Any]
) -> None:
    generator = {"env_kwargs": DUCK, "randomization": "none", "image_size": 64, "shard_size": 16}
    generate(generator, tmp_path / "data", 16, progress=False)
    _, data, config, fitted = tiny_belief(tmp_path / "data", tmp_path / "run", epochs=8)
    np.testing.assert_allclose(data.model_points[8], 0.0, atol=1e-9)  # the centroid is the object's origin
    history = fitted["history"]
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    # The whole run and its evaluation (scores in the world frame, true and calibrated camera).
    run = train_belief(config.model_copy(update={"epochs": 1}))
    scores = evaluate_belief(run, {"train": tmp_path / "data"})["train"]
    assert scores["images"] == 16
    for camera in ("true_camera", "calibrated_camera"):
        assert {"translation_cm", "rotation_deg", "add_accuracy", "add_s_accuracy", "add_auc", "xy_ray_cm"} <= set(
            scores[camera]
        )
    assert (run / "config.yaml").is_file()  # the resolved config says the kind: dr-sim evaluate finds its scorer
    assert main(["evaluate", str(run), "--data", f"set={tmp_path / 'data'}", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"set"}
    assert "calibrated_camera" in format_belief_scores({"set": scores})
