"""DrQ/RAD random shifts as SB3 replay buffers, and the RL config's image keys: ``observation_keys``,
``augmentation`` and the CNN policies picked for image observations, trained for real on PuckPush."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from dr_sim.errors import ConfigError
from dr_sim.policies.image_augmentation import ShiftDictReplayBuffer, ShiftReplayBuffer, random_shift
from dr_sim.policies.rl_config import load_rl_config
from dr_sim.policies.rl_evaluation import evaluate
from dr_sim.policies.rl_training import CHECKPOINTS, FINAL_MODEL, policy_name, train

torch.set_num_threads(1)


def ramp(batch: int, size: int = 12) -> np.ndarray:
    """(batch, 3, size, size) uint8 images whose every pixel is distinct along each axis."""
    rows = np.arange(size, dtype=np.uint8)[:, None] * 16 + np.arange(size, dtype=np.uint8)[None, :]
    return np.broadcast_to(rows, (batch, 3, size, size)).copy()


@pytest.mark.parametrize("channels_first", [True, False])
def test_each_image_is_shifted_by_its_own_offset_within_pad_and_keeps_shape_and_dtype(channels_first: bool) -> None:
    images = ramp(64)
    given = images if channels_first else images.transpose(0, 2, 3, 1).copy()
    shifted = random_shift(given, 2, np.random.default_rng(0), channels_first)
    assert shifted.shape == given.shape
    assert shifted.dtype == np.uint8
    planes = shifted if channels_first else shifted.transpose(0, 3, 1, 2)
    offsets = set()
    for image in planes:
        # The centre pixel (6, 6) came from (6 + dy, 6 + dx): recover the shift, then check the whole interior.
        value = int(image[0, 6, 6])
        dy, dx = value // 16 - 6, value % 16 - 6
        assert -2 <= dy <= 2
        assert -2 <= dx <= 2
        np.testing.assert_array_equal(image[:, 2:-2, 2:-2], ramp(1)[0][:, 2 + dy : 10 + dy, 2 + dx : 10 + dx])
        offsets.add((dy, dx))
    assert len(offsets) > 10  # drawn per image, not once per batch
    again = random_shift(given, 2, np.random.default_rng(0), channels_first)
    np.testing.assert_array_equal(again, shifted)  # seeded


def test_edges_repeat_and_no_pad_is_a_copy() -> None:
    images = ramp(200)
    shifted = random_shift(images, 3, np.random.default_rng(1))
    assert set(np.unique(shifted)) <= set(np.unique(images))  # padding repeats edge pixels, no zeros added
    same = random_shift(images, 0, np.random.default_rng(1))
    np.testing.assert_array_equal(same, images)
    assert same is not images
    with pytest.raises(ValueError, match="batch of images"):
        random_shift(images[0], 2, np.random.default_rng(1))


def test_the_buffers_shift_images_of_sampled_batches_and_keep_vectors() -> None:
    image = spaces.Box(0, 255, (3, 12, 12), np.uint8)
    goal = spaces.Box(-1.0, 1.0, (3,), np.float32)
    action = spaces.Box(-1.0, 1.0, (2,), np.float32)
    observation = {"rgb": ramp(1)[0], "desired_goal": np.array([0.1, 0.2, 0.3], np.float32)}
    buffer = ShiftDictReplayBuffer(16, spaces.Dict({"rgb": image, "desired_goal": goal}), action, pad=2, seed=0)
    plain = ShiftReplayBuffer(16, image, action, pad=2, seed=0)
    for _ in range(16):
        batched = {key: value[None] for key, value in observation.items()}
        buffer.add(batched, batched, np.zeros((1, 2)), np.zeros(1), np.zeros(1), [{}])
        plain.add(ramp(1), ramp(1), np.zeros((1, 2)), np.zeros(1), np.zeros(1), [{}])
    samples = buffer.sample(32)
    assert samples.observations["rgb"].shape == (32, 3, 12, 12)
    assert samples.observations["rgb"].dtype == torch.uint8
    assert not all(torch.equal(image, samples.observations["rgb"][0]) for image in samples.observations["rgb"])
    assert not torch.equal(samples.observations["rgb"], samples.next_observations["rgb"])  # drawn apart
    np.testing.assert_array_equal(samples.observations["desired_goal"].numpy()[0], observation["desired_goal"])
    np.testing.assert_array_equal(buffer.observations["rgb"][:, 0], ramp(16))  # stored images untouched
    assert plain.sample(8).observations.shape == (8, 3, 12, 12)
    with pytest.raises(ValueError, match="image entry"):
        ShiftDictReplayBuffer(4, spaces.Dict({"desired_goal": goal}), action)


def pixel_config(tiny_rl: Any, out: Path, **overrides: Any) -> dict[str, Any]:
    pixels = {
        "env_kwargs": {"obs_type": "rgb", "image_size": 40},
        "randomization": "visual",
        "observation_keys": ["rgb", "desired_goal"],
        "augmentation": {"type": "shift", "pad": 2},
        "max_episode_steps": 10,
        "total_timesteps": 60,
        "hyperparams": {
            "learning_starts": 30,
            "batch_size": 8,
            "buffer_size": 100,
            "policy_kwargs": {"net_arch": [16]},
        },
    }
    return tiny_rl(out, **{**pixels, **overrides})


def test_a_pixel_policy_trains_with_shifts_on_the_kept_entries_and_evaluates(tiny_rl: Any, tmp_path: Path) -> None:
    run = train(pixel_config(tiny_rl, tmp_path / "run"))
    assert (run / CHECKPOINTS / FINAL_MODEL).is_file()
    config = load_rl_config(pixel_config(tiny_rl, "unused"))
    assert config.augmentation is not None
    assert config.augmentation.pad == 2
    results = evaluate(run, ["nominal"], 2)
    assert results["domains"]["nominal"]["episodes"] == 2
    image = spaces.Box(0, 255, (40, 40, 3), np.uint8)
    assert policy_name(config, image) == "CnnPolicy"
    assert policy_name(config, spaces.Dict({"rgb": image})) == "MultiInputPolicy"
    assert policy_name(config, spaces.Box(-1.0, 1.0, (3,), np.float32)) == "MlpPolicy"


def test_unset_image_keys_leave_a_config_dump_as_before(tiny_rl: Any) -> None:
    dumped = load_rl_config(tiny_rl("out")).model_dump(mode="json")
    assert "observation_keys" not in dumped  # the settings hash of runs made before these keys is kept
    assert "augmentation" not in dumped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"algo": "ppo"}, "augmentation needs an off-policy algo"),
        ({"augmentation": {"pad": 0}}, "pad"),
        ({"augmentation": {"type": "crop"}}, "shift"),
    ],
)
def test_bad_augmentation_is_one_config_error(tiny_rl: Any, change: dict[str, Any], message: str) -> None:
    config = {**pixel_config(tiny_rl, "out"), **change}
    if config["algo"] == "ppo":
        config["hyperparams"] = {}
    with pytest.raises(ConfigError, match=message):
        load_rl_config(config)


def test_an_unknown_observation_key_names_the_entries(tiny_rl: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no entry 'rbg'.*Did you mean 'rgb'"):
        train(pixel_config(tiny_rl, tmp_path / "run", observation_keys=["rbg"]))
