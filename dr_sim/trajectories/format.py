"""The trajectory format: what a robot (or ``dr-sim record``) hands to ``dr-sim calibrate``.

A trajectory set is a folder::

    index.json              the env and its spaces, the control period, the episode files, metadata
    episode_000000.npz      one episode per file
    episode_000001.npz
    ...

``index.json`` holds ``{"format": "dr_sim.trajectories", "version": 1, "env": id, "env_kwargs": {...},
"control_dt": s, "observation_space": ..., "action_space": ..., "episodes": [{"file", "steps"}, ...],
"metadata": {...}}``; the spaces are described as in ``dr_sim.trajectories.spaces`` (type, shape, dtype,
finite bounds). An episode of ``T`` control steps holds these arrays:

==========================  =================  ===================================================
``observations``            (T + 1, *obs)      what the agent observed after the reset and after each
                                               step; a Dict space stores one array per entry,
                                               ``observations.<key>``
``actions``                 (T, *act)          the policy's actions (before any latency or noise)
``control_dt``              ()  float, s       the control period
``timestamps``              (T + 1,) float, s  optional: when each observation was taken
``rewards``                 (T,) float         optional
``start_env_seed``          () int             optional: the seed the env's ``reset(seed=...)`` takes to
                                               reach the start state (dr_sim's tasks draw their start
                                               state from it)
``start_randomization``     () str, JSON       optional: the episode's ``info["randomization"]`` when it
                                               was recorded in simulation (it carries the env seed too)
``metadata``                () str, JSON       optional: free-form (robot, operator, date, ...)
==========================  =================  ===================================================

The start state is the first observation plus, where the env can be reset to it, its seed: a simulated
episode replays from ``start_env_seed`` (or its record), and ``dr-sim calibrate`` replays each recorded
action sequence from there.

Why npz per episode and a JSON index: npz is NumPy's own container (a zip of ``.npy`` arrays, readers
exist for C++, Julia, Rust and MATLAB), needs no dependency beyond NumPy, keeps dtypes and shapes
exactly, and loads without pickle (``allow_pickle=False``: a file cannot run code). One file per episode
suits a robot logger (an episode is written whole when it ends; a crash loses at most that one) and
lets a set grow or be subset by copying files. HDF5 would add h5py and one mutable file that a crash can
corrupt; a LeRobot-style dataset (parquet plus videos) targets image policies and brings its own stack.
Strings (JSON) are stored as NumPy unicode scalars, which need no pickle either.

``read_trajectories`` validates everything it reads (keys, shapes, dtypes, finiteness, the index against
the files) and ``TrajectorySet.check_env`` compares the recorded spaces and control period with an env's;
each problem is one ``ConfigError`` naming the file, what was wrong and what would be right.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.errors import ConfigError
from dr_sim.file_io import write_atomically
from dr_sim.trajectories.spaces import check_same_space, check_values, describe_space, leaves

FORMAT = "dr_sim.trajectories"
VERSION = 1
INDEX = "index.json"
OBSERVATIONS = "observations"
REQUIRED = ("actions", "control_dt")
OPTIONAL = ("timestamps", "rewards", "start_env_seed", "start_randomization", "metadata")
INDEX_KEYS = ("format", "version", "env", "control_dt", "observation_space", "action_space", "episodes")
DT_TOLERANCE = 1e-6  # relative difference of control periods that still counts as the same (s/s)

Observation = np.ndarray | dict[str, np.ndarray]


def episode_name(index: int) -> str:
    """``episode_000003.npz``."""
    return f"episode_{index:06d}.npz"


@dataclass
class Trajectory:
    """One episode. Units: ``control_dt`` and ``timestamps`` in seconds; observations and actions in the
    env's own units.

    Attributes:
        observations: (T + 1, ...) array, or a dict of such arrays for a Dict observation space.
        actions: (T, ...) array of the policy's actions.
        control_dt: the control period (s).
        timestamps: (T + 1,) times of the observations (s), or ``None``.
        rewards: (T,) rewards, or ``None``.
        env_seed: the seed that resets the env to the start state, or ``None``.
        randomization: the episode's ``info["randomization"]`` (simulated episodes), or ``None``.
        metadata: free-form JSON-serialisable data.
    """

    observations: Observation
    actions: np.ndarray
    control_dt: float
    timestamps: np.ndarray | None = None
    rewards: np.ndarray | None = None
    env_seed: int | None = None
    randomization: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """T, the number of control steps."""
        return len(self.actions)

    @property
    def start_seed(self) -> int | None:
        """The env seed of the start state: ``env_seed``, else the one in ``randomization``."""
        if self.env_seed is not None:
            return self.env_seed
        seed = (self.randomization or {}).get("env_seed")
        return None if seed is None else int(seed)

    def observation(self, step: int) -> Any:
        """The observation after ``step`` control steps (0: after the reset)."""
        if isinstance(self.observations, dict):
            return {key: value[step] for key, value in self.observations.items()}
        return self.observations[step]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the episode file (see the module docstring)."""
        arrays: dict[str, np.ndarray] = {"actions": np.asarray(self.actions)}
        if isinstance(self.observations, dict):
            arrays.update({f"{OBSERVATIONS}.{key}": np.asarray(value) for key, value in self.observations.items()})
        else:
            arrays[OBSERVATIONS] = np.asarray(self.observations)
        arrays["control_dt"] = np.float64(self.control_dt)
        if self.timestamps is not None:
            arrays["timestamps"] = np.asarray(self.timestamps, dtype=np.float64)
        if self.rewards is not None:
            arrays["rewards"] = np.asarray(self.rewards, dtype=np.float64)
        if self.env_seed is not None:
            arrays["start_env_seed"] = np.int64(self.env_seed)
        if self.randomization is not None:
            arrays["start_randomization"] = np.str_(json.dumps(self.randomization, sort_keys=True))
        if self.metadata:
            arrays["metadata"] = np.str_(json.dumps(self.metadata, sort_keys=True))
        return arrays


def write_episode(folder: Path, index: int, trajectory: Trajectory) -> Path:
    """Write episode ``index`` (``episode_XXXXXX.npz``), whole or not at all; returns its path."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **trajectory.arrays())
    path = folder / episode_name(index)
    write_atomically(path, buffer.getvalue())
    return path


def write_index(
    folder: Path,
    *,
    env: str,
    env_kwargs: Mapping[str, Any],
    control_dt: float,
    observation_space: spaces.Space[Any],
    action_space: spaces.Space[Any],
    steps: list[int],
    metadata: Mapping[str, Any],
) -> Path:
    """Write ``index.json`` for episodes ``0 .. len(steps) - 1`` (``steps``: their step counts)."""
    index = {
        "format": FORMAT,
        "version": VERSION,
        "env": env,
        "env_kwargs": dict(env_kwargs),
        "control_dt": float(control_dt),
        "observation_space": describe_space(observation_space, "observation_space"),
        "action_space": describe_space(action_space, "action_space"),
        "episodes": [{"file": episode_name(i), "steps": int(n)} for i, n in enumerate(steps)],
        "metadata": dict(metadata),
    }
    path = folder / INDEX
    write_atomically(path, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
    return path


@dataclass
class TrajectorySet:
    """A trajectory folder, read and validated: its index entries and its episodes."""

    root: Path
    env: str
    env_kwargs: dict[str, Any]
    control_dt: float
    observation_space: dict[str, Any]
    action_space: dict[str, Any]
    episodes: list[Trajectory]
    metadata: dict[str, Any]

    def check_env(self, env: Any) -> None:
        """One ``ConfigError`` when ``env``'s observation or action space or its control period (s, when it
        has one) differ from the recorded ones."""
        origin = str(self.root / INDEX)
        check_same_space(self.observation_space, env.observation_space, "observation_space", origin)
        check_same_space(self.action_space, env.action_space, "action_space", origin)

    def check_control_dt(self, control_dt: float | None, what: str = "the env") -> None:
        """One ``ConfigError`` when the recorded control period differs from ``control_dt`` (s)."""
        if control_dt is None:
            return
        for i, episode in enumerate(self.episodes):
            if abs(episode.control_dt - control_dt) > DT_TOLERANCE * control_dt:
                raise ConfigError(
                    f"{self.root / episode_name(i)}: control_dt is {episode.control_dt:g} s, but {what} steps every "
                    f"{control_dt:g} s; replaying its actions at another rate is meaningless: "
                    f"record at {control_dt:g} s"
                )


def read_trajectories(folder: str | Path) -> TrajectorySet:
    """Read and validate a trajectory folder (or its ``index.json``); see the module docstring."""
    root = Path(folder)
    if root.name == INDEX:
        root = root.parent
    index_path = root / INDEX
    if not root.is_dir():
        raise ConfigError(f"trajectories {str(root)!r} is not a folder; give the folder that holds {INDEX}")
    if not index_path.is_file():
        raise ConfigError(f"{root}: no {INDEX}; a trajectory folder holds {INDEX} and episode_XXXXXX.npz files")
    index = _read_index(index_path)
    observation_space, action_space = index["observation_space"], index["action_space"]
    episodes = [
        read_episode(root / entry["file"], observation_space, action_space, entry["steps"])
        for entry in index["episodes"]
    ]
    return TrajectorySet(
        root,
        index["env"],
        dict(index.get("env_kwargs") or {}),
        float(index["control_dt"]),
        observation_space,
        action_space,
        episodes,
        dict(index.get("metadata") or {}),
    )


def _read_index(path: Path) -> dict[str, Any]:
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid JSON ({error}); it must hold the trajectory index") from None
    if not isinstance(index, dict):
        raise ConfigError(f"{path}: must hold a JSON object with keys {', '.join(INDEX_KEYS)}")
    missing = [key for key in INDEX_KEYS if key not in index]
    if missing:
        raise ConfigError(f"{path}: missing key {missing[0]!r}; an index holds {', '.join(INDEX_KEYS)}")
    if index["format"] != FORMAT or index["version"] != VERSION:
        raise ConfigError(
            f"{path}: format {index['format']!r} version {index['version']!r}; expected {FORMAT!r} version {VERSION}"
        )
    if not isinstance(index["env"], str) or not index["env"]:
        raise ConfigError(f"{path}: env must be a Gymnasium env id such as 'dr_sim/PuckPush-v0', got {index['env']!r}")
    if not isinstance(index["control_dt"], int | float) or not index["control_dt"] > 0:
        raise ConfigError(f"{path}: control_dt must be a positive number of seconds, got {index['control_dt']!r}")
    for name in ("observation_space", "action_space"):
        _check_description(index[name], f"{path}: {name}")
    if index["action_space"].get("type") == "Dict":
        raise ConfigError(f"{path}: action_space must be a Box or Discrete space, not a Dict")
    episodes = index["episodes"]
    if not isinstance(episodes, list) or not episodes:
        raise ConfigError(f"{path}: episodes must be a non-empty list of {{'file', 'steps'}} entries")
    for i, entry in enumerate(episodes):
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("steps"), int)):
            raise ConfigError(
                f"{path}: episodes[{i}] must be {{'file': 'episode_XXXXXX.npz', 'steps': T}}, got {entry!r}"
            )
        if entry["steps"] < 1 or Path(entry["file"]).name != entry["file"]:
            raise ConfigError(
                f"{path}: episodes[{i}] must name a file in the folder and at least 1 step, got {entry!r}"
            )
    return index


def _check_description(description: Any, where: str) -> None:
    if not isinstance(description, dict) or description.get("type") not in ("Box", "Discrete", "Dict"):
        raise ConfigError(f"{where} must describe a Box, Discrete or Dict space, got {description!r}")
    if description["type"] == "Dict":
        if not isinstance(description.get("spaces"), dict) or not description["spaces"]:
            raise ConfigError(f"{where} must hold 'spaces', a mapping of key to space")
        for key, sub in description["spaces"].items():
            _check_description(sub, f"{where}.{key}")
        return
    if description["type"] == "Box":
        shape, dtype = description.get("shape"), description.get("dtype")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ConfigError(f"{where}: shape must be a list of sizes, got {shape!r}")
        try:
            np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"{where}: dtype must be a NumPy dtype name such as 'float32', got {dtype!r}") from None


def read_episode(path: Path, observation_space: dict[str, Any], action_space: dict[str, Any], steps: int) -> Trajectory:
    """Read one episode file and check it against the recorded spaces and ``steps`` (from the index)."""
    if not path.is_file():
        raise ConfigError(f"{path}: listed in {INDEX} but missing; restore it or remove its entry")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ConfigError(f"{path}: not a readable .npz episode file ({error})") from None
    origin = str(path)
    parts = leaves(observation_space)
    observation_keys = [OBSERVATIONS] if list(parts) == [""] else [f"{OBSERVATIONS}.{key}" for key in parts]
    expected = [*REQUIRED, *observation_keys]
    missing = [key for key in expected if key not in arrays]
    if missing:
        raise ConfigError(
            f"{origin}: missing array {missing[0]!r}; an episode holds {', '.join(expected)} "
            f"(optional: {', '.join(OPTIONAL)})"
        )
    unknown = sorted(set(arrays) - set(expected) - set(OPTIONAL))
    if unknown:
        raise ConfigError(
            f"{origin}: unknown array {unknown[0]!r}; allowed: {', '.join([*expected, *OPTIONAL])} "
            "(another env's observations? put extra data in 'metadata')"
        )
    actions = arrays["actions"]
    if actions.ndim == 0 or len(actions) != steps:
        raise ConfigError(f"{origin}: actions has shape {actions.shape}, but {INDEX} lists {steps} steps")
    check_values(actions, action_space, steps, "actions", origin)
    observations: Observation
    if list(parts) == [""]:
        observations = arrays[OBSERVATIONS]
        check_values(observations, observation_space, steps + 1, OBSERVATIONS, origin)
    else:
        observations = {}
        for key, description in parts.items():
            name = f"{OBSERVATIONS}.{key}"
            check_values(arrays[name], description, steps + 1, name, origin)
            observations[key] = arrays[name]
    control_dt = _scalar(arrays["control_dt"], "control_dt", origin, "f")
    if not control_dt > 0:
        raise ConfigError(f"{origin}: control_dt must be a positive number of seconds, got {control_dt!r}")
    timestamps = arrays.get("timestamps")
    if timestamps is not None:
        if timestamps.shape != (steps + 1,) or timestamps.dtype.kind != "f" or not np.all(np.isfinite(timestamps)):
            raise ConfigError(
                f"{origin}: timestamps must be {steps + 1} finite seconds (float), "
                f"got {timestamps.dtype} {timestamps.shape}"
            )
        if np.any(np.diff(timestamps) < 0):
            raise ConfigError(f"{origin}: timestamps must not decrease (seconds since the episode's start)")
    rewards = arrays.get("rewards")
    if rewards is not None and (rewards.shape != (steps,) or rewards.dtype.kind not in "fiu"):
        raise ConfigError(f"{origin}: rewards must be {steps} numbers, got {rewards.dtype} {rewards.shape}")
    seed = arrays.get("start_env_seed")
    env_seed = None if seed is None else int(_scalar(seed, "start_env_seed", origin, "iu"))
    randomization = _json(arrays.get("start_randomization"), "start_randomization", origin)
    metadata = _json(arrays.get("metadata"), "metadata", origin)
    return Trajectory(
        observations,
        actions,
        float(control_dt),
        timestamps,
        rewards,
        env_seed,
        randomization,
        metadata or {},
    )


def _scalar(value: np.ndarray, name: str, origin: str, kinds: str) -> float:
    if value.shape != () or value.dtype.kind not in kinds:
        what = "an integer" if kinds == "iu" else "a number"
        raise ConfigError(f"{origin}: {name} must be {what} (a 0-d array), got {value.dtype} {value.shape}")
    return value.item()


def _json(value: np.ndarray | None, name: str, origin: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if value.shape != () or value.dtype.kind != "U":
        raise ConfigError(f"{origin}: {name} must be a JSON object stored as a string, got {value.dtype} {value.shape}")
    try:
        loaded = json.loads(str(value))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{origin}: {name} is not valid JSON ({error})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{origin}: {name} must be a JSON object, got {type(loaded).__name__}")
    return loaded
