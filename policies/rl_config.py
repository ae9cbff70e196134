"""The config of a reinforcement-learning run (``kind: rl``), in the spirit of rl-baselines3-zoo.

A YAML file such as ``launch/configs/puckpush_sac.yaml``::

    kind: rl
    env: dr_sim/PuckPush-v0        # a Gymnasium id, or module:id (the module registers it)
    env_kwargs: {reward_type: dense}
    max_episode_steps: null        # control steps; null keeps the id's registered limit
    randomization: physics         # a preset, a YAML path (relative to this file) or a mapping; null: nominal
    algo: sac                      # ppo | sac | td3 | recurrent_ppo (sb3-contrib)
    her: false                     # SAC/TD3 on a goal-conditioned (Dict) env: HerReplayBuffer
    hyperparams:                   # keyword arguments of the algorithm's constructor
      learning_rate: 3.0e-4
      policy_kwargs: {net_arch: [256, 256], activation: relu}   # activation: relu | tanh | elu | leaky_relu
    n_envs: 4
    vec_env: dummy                 # dummy (one process) | subproc (one worker process per env)
    normalize: false               # true, or {norm_obs, norm_reward, clip_obs, clip_reward, gamma}
    history: 0                     # k > 0 adds the last k observations and actions (dr_sim.policies.history)
    observation_keys: null         # a Dict observation's entries the policy sees (e.g. [rgb, desired_goal]); null: all
    augmentation: null             # {type: shift, pad: 4}: DrQ/RAD random shifts (px) of the image batches that
                                   # SAC/TD3 learn from (dr_sim.policies.image_augmentation); null: none
    total_timesteps: 60000         # env steps, all envs together
    seed: 0                        # model, env resets (env i: seed + i), exploration
    threads: 1                     # torch CPU threads
    checkpoint_freq: null          # env steps between checkpoints (null: a quarter of the run; 0: final only)
    eval_freq: 0                   # env steps between deterministic evaluations (0: none)
    eval_episodes: 10
    eval_randomization: train      # where they run: train (the training randomization), null (nominal),
                                   # a preset, a YAML path or a mapping (a held-out distribution)
    adr: null                      # automatic domain randomization over `randomization` (dr_sim.adr.config)
    resume: false                  # true: continue from the run folder's latest checkpoint, if it has one
    out: runs/puckpush_sac         # the run folder

Every bad key or value ends in one ``ConfigError`` naming it. YAML floats need a dot or digits before
the exponent for PyYAML (``3.0e-4``); a hyperparameter string that reads as a number (``"3e-4"``) is
converted with ``float`` (never evaluated).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, SerializerFunctionWrapHandler, ValidationError, model_serializer, model_validator

from dr_sim.adr.config import AdrConfig
from dr_sim.adr.ranges import check_randomization
from dr_sim.config import PRESETS, load_config, preset_dict
from dr_sim.config.loader import format_validation_error, read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.extras import require

KIND = "rl"
TRAIN = "train"  # eval_randomization: the training randomization
OFF_POLICY = ("sac", "td3")
ACTIVATIONS = ("relu", "tanh", "elu", "leaky_relu")
ACTION_NOISES = ("normal", "ornstein_uhlenbeck")
#: Constructor arguments that the training code sets itself.
MANAGED = ("policy", "env", "seed", "verbose", "tensorboard_log", "device", "_init_setup_model", "replay_buffer_class")
#: Keys left out of a dumped config while unset, so that the settings (and hashes) of runs made before
#: these keys existed stay what they were.
OMITTED_WHEN_UNSET = ("observation_keys", "augmentation")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class NormalizeSpec(StrictModel):
    """``VecNormalize`` settings: running mean/std of observations and of the discounted return."""

    norm_obs: bool = True
    norm_reward: bool = True
    clip_obs: float = Field(default=10.0, gt=0)
    clip_reward: float = Field(default=10.0, gt=0)
    gamma: float | None = Field(default=None, gt=0, le=1)  # None: the algorithm's gamma (or 0.99)


class AugmentationSpec(StrictModel):
    """Image augmentation of the sampled training batches: a random shift of up to ``pad`` pixels."""

    type: Literal["shift"] = "shift"
    pad: int = Field(default=4, ge=1, le=32)  # px


class RLConfig(StrictModel):
    """A training run (see the module docstring for each key and its unit)."""

    kind: Literal["rl"]
    env: str = "dr_sim/PuckPush-v0"
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    max_episode_steps: int | None = Field(default=None, gt=0)
    randomization: str | dict[str, Any] | None = None
    algo: Literal["ppo", "sac", "td3", "recurrent_ppo"]
    her: bool = False
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    n_envs: int = Field(default=1, ge=1, le=256)
    vec_env: Literal["dummy", "subproc"] = "dummy"
    normalize: bool | NormalizeSpec = False
    history: int = Field(default=0, ge=0, le=64)
    observation_keys: list[str] | None = Field(default=None, min_length=1)
    augmentation: AugmentationSpec | None = None
    total_timesteps: int = Field(gt=0)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=1, ge=1, le=256)
    checkpoint_freq: int | None = Field(default=None, ge=0)
    eval_freq: int = Field(default=0, ge=0)
    eval_episodes: int = Field(default=10, ge=1)
    eval_randomization: str | dict[str, Any] | None = TRAIN
    adr: AdrConfig | None = None
    resume: bool = False
    out: str

    @model_validator(mode="after")
    def _check(self) -> RLConfig:
        if self.her and self.algo not in OFF_POLICY:
            raise ValueError(f"her: true needs an off-policy algo ({', '.join(OFF_POLICY)}), got {self.algo!r}")
        if self.augmentation is not None and (self.algo not in OFF_POLICY or self.her):
            raise ValueError(
                f"augmentation needs an off-policy algo ({', '.join(OFF_POLICY)}) without her "
                f"(it shifts the replay buffer's batches), got algo {self.algo!r}, her {self.her}"
            )
        if "randomization" in self.env_kwargs:
            raise ValueError("env_kwargs.randomization: give the randomization as the top-level 'randomization' key")
        return self

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {key: value for key, value in data.items() if key not in OMITTED_WHEN_UNSET or value is not None}

    @property
    def normalization(self) -> NormalizeSpec | None:
        """The ``VecNormalize`` settings, or ``None`` without normalization."""
        if self.normalize is False:
            return None
        return NormalizeSpec() if self.normalize is True else self.normalize

    @property
    def checkpoint_every(self) -> int:
        """Env steps between periodic checkpoints (0: only the final model)."""
        return self.total_timesteps // 4 if self.checkpoint_freq is None else self.checkpoint_freq


ConfigInput = str | Path | Mapping[str, Any] | RLConfig


def expand_randomization(source: Any, base: Path | None = None) -> dict[str, Any] | None:
    """The randomization as a plain mapping (validated): a preset's or YAML file's content, a mapping as
    it is, ``None`` for the nominal scene. Relative YAML paths are taken from ``base`` (the config's folder)."""
    if source is None or source == "none":
        return None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    elif isinstance(source, str) and source in PRESETS:
        data = preset_dict(source)
    elif isinstance(source, str):
        path = Path(source).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise ConfigError(
                f"randomization {source!r} is neither a preset ({', '.join(PRESETS)}) nor a .yaml file."
                f"{did_you_mean(source, PRESETS)}"
            )
        data = read_yaml_mapping(path, "randomization")
    else:
        raise ConfigError(f"randomization must be a preset name, a YAML path or a mapping, got {source!r}")
    load_config(data)  # one ConfigError naming the bad key
    return data


def load_rl_config(source: ConfigInput) -> RLConfig:
    """A validated ``RLConfig`` with its randomization expanded to a mapping; one ``ConfigError`` if bad.

    ``source``: a YAML path (relative randomization paths are taken from its folder), a mapping (relative
    to the working folder) or a config (returned as it is).
    """
    if isinstance(source, RLConfig):
        return source
    if isinstance(source, str | Path):
        origin, base, data = str(source), Path(source).parent, read_yaml_mapping(source, "training config")
    else:
        origin, base, data = "rl config", None, dict(source)
    if data.get("kind") != KIND:
        raise ConfigError(f"{origin}: kind must be {KIND!r} for a reinforcement-learning run, got {data.get('kind')!r}")
    try:
        config = RLConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin)) from None
    try:
        randomization = expand_randomization(config.randomization, base)
    except ConfigError as error:
        raise ConfigError(f"{origin}: randomization: {error}") from None
    evaluation = config.eval_randomization
    try:
        evaluation = evaluation if evaluation == TRAIN else expand_randomization(evaluation, base)
    except ConfigError as error:
        raise ConfigError(f"{origin}: eval_randomization: {error}") from None
    if config.adr is not None:
        try:
            check_randomization(config.adr, randomization)
        except ConfigError as error:
            raise ConfigError(f"{origin}: {error}") from None
    config = config.model_copy(update={"randomization": randomization, "eval_randomization": evaluation})
    check_hyperparams(config, origin)
    return config


def algo_class(name: str) -> Any:
    """The stable-baselines3 (or sb3-contrib) class of ``name``."""
    if name == "recurrent_ppo":
        return require("sb3_contrib", "algo 'recurrent_ppo'").RecurrentPPO
    stable_baselines3 = require("stable_baselines3", f"algo {name!r}")
    return {"ppo": stable_baselines3.PPO, "sac": stable_baselines3.SAC, "td3": stable_baselines3.TD3}[name]


def _number(value: Any) -> Any:
    """A string that reads as a number (YAML 1.1 reads ``3e-4`` as a string) as a float; else the value."""
    return float(value) if isinstance(value, str) and _NUMBER.match(value) else value


def check_hyperparams(config: RLConfig, origin: str = "rl config") -> None:
    """One ``ConfigError`` for a hyperparameter the algorithm does not take, or one the training sets itself."""
    allowed = [
        name
        for name, parameter in inspect.signature(algo_class(config.algo).__init__).parameters.items()
        if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    for key in config.hyperparams:
        if key in MANAGED:
            raise ConfigError(f"{origin}: hyperparams.{key} is set by the training itself (top-level keys: seed, env)")
        if key not in allowed:
            usable = [name for name in allowed if name not in MANAGED]
            raise ConfigError(
                f"{origin}: hyperparams: unknown key {key!r} for {config.algo}.{did_you_mean(key, usable)} "
                f"Allowed: {', '.join(usable)}"
            )
    policy_kwargs = config.hyperparams.get("policy_kwargs", {})
    if not isinstance(policy_kwargs, dict):
        raise ConfigError(f"{origin}: hyperparams.policy_kwargs must be a mapping, got {policy_kwargs!r}")
    if "activation_fn" in policy_kwargs:
        raise ConfigError(f"{origin}: hyperparams.policy_kwargs: use 'activation' ({', '.join(ACTIVATIONS)})")
    activation = policy_kwargs.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"{origin}: hyperparams.policy_kwargs.activation {activation!r} is not allowed."
            f"{did_you_mean(str(activation), ACTIVATIONS)} Allowed: {', '.join(ACTIVATIONS)}"
        )
    noise = config.hyperparams.get("action_noise")
    if noise is not None and (
        not isinstance(noise, dict) or noise.get("type") not in ACTION_NOISES or set(noise) != {"type", "sigma"}
    ):
        raise ConfigError(
            f"{origin}: hyperparams.action_noise must be {{type: {' | '.join(ACTION_NOISES)}, sigma: STD}}, "
            f"got {noise!r}"
        )


def algo_kwargs(config: RLConfig, action_dim: int) -> dict[str, Any]:
    """The algorithm's keyword arguments: numbers parsed, ``activation`` and ``action_noise`` mapped to objects."""
    nn = require("torch.nn", f"algo {config.algo!r}")
    noise_module = require("stable_baselines3.common.noise", f"algo {config.algo!r}")
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
    noises = {"normal": noise_module.NormalActionNoise, "ornstein_uhlenbeck": noise_module.OrnsteinUhlenbeckActionNoise}
    kwargs = {key: _number(value) for key, value in config.hyperparams.items()}
    policy_kwargs = dict(kwargs.pop("policy_kwargs", {}))
    policy_kwargs["activation_fn"] = activations[policy_kwargs.pop("activation", "relu")]
    kwargs["policy_kwargs"] = policy_kwargs
    noise = kwargs.pop("action_noise", None)
    if noise is not None:
        sigma = float(_number(noise["sigma"]))
        kwargs["action_noise"] = noises[noise["type"]](np.zeros(action_dim), np.full(action_dim, sigma))
    return kwargs
