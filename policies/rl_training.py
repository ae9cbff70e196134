"""Train a stable-baselines3 policy under domain randomization from a ``kind: rl`` config.

``dr-sim train CONFIG`` (``CONFIG`` a YAML file with ``kind: rl``, see ``dr_sim.policies.rl_config``)
writes a run folder:

- ``config.yaml``: the resolved config, every default filled in and the randomization expanded;
- ``git.txt``: the commit and whether the work tree had changes (``unknown`` outside a git repository);
- ``command.txt``: the command line;
- ``checkpoints/``: ``model_<steps>_steps.zip`` every ``checkpoint_freq`` env steps and
  ``model_final.zip``, each with its ``VecNormalize`` statistics (``model_vecnormalize_*.pkl``) when
  observations or rewards are normalized;
- ``tb/``: TensorBoard logs: stable-baselines3's, plus ``episode/success`` (the success rate of the
  episodes finished since the last write) and ``randomization/<parameter>`` (the mean, over those
  episodes, of each scalar parameter they were sampled with: ``info["randomization"]`` at their reset,
  flattened as ``dr_sim.param_records.flatten_params`` does);
- ``training.json``: wall time (s), env steps per second, the last episodes' success rate;
- ``eval/evaluations.npz`` with ``eval_freq``: SB3's periodic evaluations (steps, returns, successes) in
  the ``eval_randomization`` domain (``eval/success_rate`` in TensorBoard);
- with ``adr``: ``checkpoints/adr_<steps>_steps.json`` beside every model checkpoint, ``adr_final.json``,
  ``adr_history.json`` and ``adr/...`` ranges and entropy in TensorBoard (``dr_sim.adr.callback``).

Env ``i`` of ``n_envs`` is first reset with ``seed + i``, so each worker draws its own randomization
stream; the model is seeded with ``seed``. Nothing else draws random numbers.

``resume: true`` continues a run from the latest ``model_<steps>_steps.zip`` of its folder (a fresh start
when there is none) up to ``total_timesteps``: the model and its optimizers, the ``VecNormalize``
statistics and the ADR state of that checkpoint. The replay buffer of an off-policy model is not saved: it
refills for ``learning_starts`` steps before learning goes on. Env ``i`` restarts with seed
``seed + steps + i``, so the resumed part draws new episodes. The folder's config must match the new one
in everything but ``total_timesteps`` and ``resume``.

A run folder is never overwritten by another run (``check_run_folder``): training into a folder that
holds a run of other settings (anything but ``resume`` and ``out``; ``total_timesteps`` too unless
``resume: true``), or a pose run, is refused with one ``ConfigError`` naming the first difference. A
finished run of the same settings is left as it is (training again is a no-op); an unfinished one with
checkpoints needs ``resume: true`` (a folder with no checkpoint yet starts afresh).

Before the envs are built the memory their randomization implies (texture pools, distractor bank; every
env of a ``dummy`` vec env lives in this process) is estimated, logged and checked against the limit of
``dr_sim.memory`` (``DR_SIM_MEMORY_LIMIT_MB``).
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3 import HerReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from dr_sim.adr import AdrConfig, AdrController, AutomaticRandomization, Ranges
from dr_sim.adr.callback import CHECKPOINT_PATTERN, AdrCallback, read_history
from dr_sim.config import load_config
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.config.overrides import read_with_overrides
from dr_sim.env_ids import check_env_id, gym_id
from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.memory import Estimate, check_memory, randomization_estimate
from dr_sim.native_output import quiet_native_stdout
from dr_sim.param_records import flatten_params
from dr_sim.policies.history import History
from dr_sim.policies.image_augmentation import shift_buffer_class
from dr_sim.policies.rl_config import (
    OFF_POLICY,
    TRAIN,
    ConfigInput,
    RLConfig,
    algo_class,
    algo_kwargs,
    load_rl_config,
)
from dr_sim.progress import Progress as ProgressBar
from dr_sim.run_cache import describe_difference, differing_keys
from dr_sim.run_files import CONFIG_FILE, write_run_files
from dr_sim.wrapper import DomainRandomization

TRAINING_FILE = "training.json"
CHECKPOINTS = "checkpoints"
FINAL_MODEL = "model_final.zip"
FINAL_NORMALIZE = "model_vecnormalize_final.pkl"
CHECKPOINT = re.compile(r"^model_(\d+)_steps\.zip$")
EVAL_FOLDER = "eval"
POSE_MODEL = "model.pt"  # what a pose run folder holds (dr_sim.policies.pose_training)
#: Keys that never make two runs different: how to start and where the folder is.
NOT_SETTINGS = ("resume", "out")
EPISODE_PARAMS = "episode_randomization"  # info key of the finished episode's flattened parameters
Log = Callable[[str], None]


# -- envs ---------------------------------------------------------------------------------------------
class EpisodeRandomization(gym.Wrapper[Any, Any, Any, Any]):
    """Put the episode's flattened randomization parameters (``info["randomization"]`` at its reset) into
    the ``info`` of its last step, under ``episode_randomization`` (name -> value)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.params: dict[str, float] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        self.params = flatten_params(info.get("randomization") or {}, indices=False)
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            info = {**info, EPISODE_PARAMS: self.params}
        return observation, float(reward), terminated, truncated, info


def make_env(
    env: str,
    env_kwargs: dict[str, Any],
    randomization: dict[str, Any] | None,
    history: int = 0,
    max_episode_steps: int | None = None,
    monitor: bool = True,
    adr: AdrConfig | None = None,
    observation_keys: Sequence[str] | None = None,
) -> gym.Env[Any, Any]:
    """One env: dr_sim's tasks take ``randomization`` themselves, other envs get the ``DomainRandomization``
    wrapper; with ``adr``, ``AutomaticRandomization`` lays ADR's ranges over ``randomization``; then only
    the ``observation_keys`` entries of a Dict observation (when given), the ``History`` wrapper
    (``history`` > 0), the episode-parameter recorder and SB3's Monitor."""
    kwargs = dict(env_kwargs)
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    own = env.rpartition(":")[2].startswith("dr_sim/")
    # With ADR the env starts at ADR's nominal episode config, which randomizes every dimension.
    initial = randomization if adr is None else Ranges(adr).episode_randomization(randomization)
    with quiet_native_stdout():  # PyBullet prints on connect
        made = gym.make(gym_id(env), **({"randomization": initial} if own else {}), **kwargs)
    if not own and initial is not None:
        made = DomainRandomization(made, initial)
    if adr is not None:
        made = AutomaticRandomization(made, adr, randomization)
    if observation_keys is not None:
        made = keep_entries(made, observation_keys, env)
    if history:
        made = History(made, history)
    made = EpisodeRandomization(made)
    return Monitor(made) if monitor else made


def keep_entries(env: gym.Env[Any, Any], keys: Sequence[str], name: str) -> gym.Env[Any, Any]:
    """``env`` observing only the ``keys`` entries of its Dict observation; one ``ConfigError`` naming a key
    it lacks (or the env, when its observation is no Dict)."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Dict):
        env.close()
        raise ConfigError(f"observation_keys needs Dict observations; {name} observes {type(space).__name__}")
    missing = [key for key in keys if key not in space.spaces]
    if missing:
        env.close()
        raise ConfigError(
            f"observation_keys: {name} has no entry {missing[0]!r}."
            f"{did_you_mean(missing[0], list(space.spaces))} Entries: {', '.join(space.spaces)}"
        )
    return gym.wrappers.FilterObservation(env, list(keys))


def env_factory(
    config: RLConfig, randomization: dict[str, Any] | None, monitor: bool = True, adr: AdrConfig | None = None
) -> Callable:
    """A picklable factory of the run's env under ``randomization`` (``None``: nominal), with ``adr`` over it."""
    return functools.partial(
        make_env,
        config.env,
        config.env_kwargs,
        randomization,
        config.history,
        config.max_episode_steps,
        monitor,
        adr,
        config.observation_keys,
    )


def make_vec_env(config: RLConfig, n_envs: int | None = None, seed: int | None = None) -> Any:
    """The training ``VecEnv`` (env ``i`` seeded ``seed + i``, with the config's ADR), wrapped in
    ``VecNormalize`` when asked."""
    n_envs = config.n_envs if n_envs is None else n_envs
    factory = env_factory(config, config.randomization, adr=config.adr)
    probe = factory()  # one clear error from the main process (bad env_kwargs, bad randomization)
    probe.close()
    factories = [factory] * n_envs
    venv = SubprocVecEnv(factories) if config.vec_env == "subproc" and n_envs > 1 else DummyVecEnv(factories)
    venv.seed(config.seed if seed is None else seed)
    normalize = config.normalization
    if normalize is not None:
        gamma = normalize.gamma or float(config.hyperparams.get("gamma", 0.99))
        venv = VecNormalize(
            venv,
            norm_obs=normalize.norm_obs,
            norm_reward=normalize.norm_reward,
            clip_obs=normalize.clip_obs,
            clip_reward=normalize.clip_reward,
            gamma=gamma,
        )
    return venv


# -- the model ----------------------------------------------------------------------------------------
def policy_name(config: RLConfig, observation_space: gym.Space[Any]) -> str:
    """SB3's policy name for the observation space (Dict: ``MultiInput...``, whose image entries get SB3's
    CNN; an image alone: ``Cnn...``; else ``Mlp...``) and algorithm (LSTM or not)."""
    kind = "Mlp"
    if isinstance(observation_space, gym.spaces.Dict):
        kind = "MultiInput"
    elif is_image_space(observation_space, check_channels=False):
        kind = "Cnn"
    return f"{kind}LstmPolicy" if config.algo == "recurrent_ppo" else f"{kind}Policy"


def build_model(config: RLConfig, venv: Any, tensorboard: Path | None) -> Any:
    """The algorithm on ``venv``, seeded with ``config.seed``; bad hyperparameter values end in a ``ConfigError``."""
    kwargs = algo_kwargs(config, int(np.prod(venv.action_space.shape)))
    if config.her:
        if not isinstance(venv.observation_space, gym.spaces.Dict):
            raise ConfigError(f"her: true needs a goal-conditioned env with Dict observations; {config.env} has none")
        kwargs["replay_buffer_class"] = HerReplayBuffer
        # The dense reward of dr_sim's goal tasks reads the step's info (the pusher position, for example).
        kwargs["replay_buffer_kwargs"] = {"copy_info_dict": True, **kwargs.get("replay_buffer_kwargs", {})}
    if config.augmentation is not None:
        kwargs["replay_buffer_class"] = shift_buffer_class(venv.observation_space)
        shift = {"pad": config.augmentation.pad, "seed": config.seed}
        kwargs["replay_buffer_kwargs"] = {**kwargs.get("replay_buffer_kwargs", {}), **shift}
    try:
        return algo_class(config.algo)(
            policy_name(config, venv.observation_space),
            venv,
            seed=config.seed,
            verbose=0,
            device="cpu",
            tensorboard_log=None if tensorboard is None else str(tensorboard),
            **kwargs,
        )
    except (TypeError, ValueError, AssertionError) as error:
        raise ConfigError(f"hyperparams for {config.algo}: {error}") from None


# -- callbacks ----------------------------------------------------------------------------------------
class EpisodeLogger(BaseCallback):
    """TensorBoard scalars of finished episodes: ``episode/success`` and ``randomization/<name>``
    (means over the episodes since the last write); writes once more when training ends."""

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done:
                continue
            if "is_success" in info:
                self.logger.record_mean("episode/success", float(info["is_success"]))
            for name, value in info.get(EPISODE_PARAMS, {}).items():
                self.logger.record_mean(f"randomization/{name}", value)
        return True

    def _on_training_end(self) -> None:
        self.logger.dump(self.num_timesteps)


class Progress(BaseCallback):
    """A progress bar of the run's env steps on stderr (``dr_sim.progress``: tqdm): steps/s and the
    time left; a resumed run starts the bar at the steps it had.

    Args:
        total: the env steps of the whole run.
    """

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.bar: ProgressBar | None = None

    def _on_training_start(self) -> None:
        self.bar = ProgressBar(self.total, "train", "steps", done=min(self.num_timesteps, self.total))

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(min(self.num_timesteps, self.total))
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.update(min(self.num_timesteps, self.total), final=True)


def run_callbacks(
    config: RLConfig,
    run: Path,
    progress: bool,
    adr: AdrController | None = None,
    adr_history: list[dict[str, Any]] | None = None,
) -> list[BaseCallback]:
    """The run's own callbacks: episode logging, periodic checkpoints, the ADR controller (``adr``: its
    state, fresh or resumed, and ``adr_history`` so far), optional evaluation and an optional progress bar."""
    chosen: list[BaseCallback] = [EpisodeLogger()]
    save_every = max(config.checkpoint_every // config.n_envs, 1) if config.checkpoint_every else 0
    if save_every:
        chosen.append(
            CheckpointCallback(save_every, str(run / CHECKPOINTS), name_prefix="model", save_vecnormalize=True)
        )
    if adr is not None:
        chosen.append(AdrCallback(adr, run / CHECKPOINTS, save_every, adr_history))
    if config.eval_freq:
        chosen.append(eval_callback(config, run))
    if progress:
        chosen.append(Progress(config.total_timesteps))
    return chosen


def eval_callback(config: RLConfig, run: Path | None = None) -> EvalCallback:
    """SB3's ``EvalCallback`` in the ``eval_randomization`` domain, without ADR (deterministic;
    ``eval/success_rate`` in TensorBoard, ``eval/evaluations.npz`` in ``run``)."""
    domain = config.randomization if config.eval_randomization == TRAIN else config.eval_randomization
    plain = config.model_copy(update={"vec_env": "dummy", "normalize": False, "randomization": domain, "adr": None})
    venv = make_vec_env(plain, 1, config.seed + 1_000_000)
    normalize = config.normalization
    if normalize is not None:
        venv = VecNormalize(venv, training=False, norm_obs=normalize.norm_obs, norm_reward=False)
    return EvalCallback(
        venv,
        n_eval_episodes=config.eval_episodes,
        eval_freq=max(config.eval_freq // config.n_envs, 1),
        log_path=None if run is None else str(run / EVAL_FOLDER),
        deterministic=True,
        verbose=0,
    )


# -- the run folder -----------------------------------------------------------------------------------
def resolved_config(config: RLConfig) -> dict[str, Any]:
    """The config as plain data, every default filled in (what ``config.yaml`` holds)."""
    return config.model_dump(mode="json")


def is_rl_run(run: str | Path) -> bool:
    """Whether ``run`` is a run folder of this module (its ``config.yaml`` says ``kind: rl``)."""
    path = Path(run) / CONFIG_FILE
    try:
        return path.is_file() and (yaml.safe_load(path.read_text()) or {}).get("kind") == "rl"
    except (OSError, yaml.YAMLError, AttributeError):
        return False


def load_run_config(run: str | Path) -> RLConfig:
    """The resolved config of a run folder (``config.yaml``)."""
    run = Path(run)
    if not run.is_dir():
        raise ConfigError(f"run folder {str(run)!r} does not exist")
    if not (run / CONFIG_FILE).is_file():
        raise ConfigError(f"{run} is not a training run: it has no {CONFIG_FILE}")
    return load_rl_config(read_yaml_mapping(run / CONFIG_FILE, "run config"))


# -- training -----------------------------------------------------------------------------------------
def latest_checkpoint(run: Path) -> int | None:
    """The env steps of the run folder's latest ``model_<steps>_steps.zip``, or ``None``."""
    found = [int(m[1]) for path in (run / CHECKPOINTS).glob("model_*_steps.zip") if (m := CHECKPOINT.match(path.name))]
    return max(found, default=None)


def check_run_folder(config: RLConfig, run: Path) -> str:
    """What training ``config`` into ``run`` does: ``"fresh"`` (a new folder, or one of these settings with
    nothing trained yet), ``"resume"`` (continue its latest checkpoint) or ``"done"`` (a finished run of these
    settings: nothing to do). One ``ConfigError`` when the folder holds another run, which is never touched."""
    if (run / POSE_MODEL).exists():
        raise ConfigError(
            f"{run} holds a pose run ({POSE_MODEL}), not an RL run; use another --out (or 'out') for this run"
        )
    if not (run / CONFIG_FILE).is_file():
        return "fresh"
    try:
        old = load_run_config(run)
    except ConfigError as error:
        raise ConfigError(
            f"{run} holds another kind of run ({error}); use another --out (or 'out') for this run"
        ) from None
    before = {key: value for key, value in resolved_config(old).items() if key not in NOT_SETTINGS}
    after = {key: value for key, value in resolved_config(config).items() if key not in NOT_SETTINGS}
    keys = [key for key in differing_keys(before, after) if key != "total_timesteps"]
    if keys:
        raise ConfigError(
            f"{run} holds a run made with other settings ({describe_difference(keys[0], before, after)}"
            f"{f' and {len(keys) - 1} more' if len(keys) > 1 else ''}); use another --out (or 'out') for a new "
            f"run; resume: true only continues a run of the same settings"
        )
    if old.total_timesteps != config.total_timesteps:
        if not config.resume:
            raise ConfigError(
                f"{run} holds a run of other settings (total_timesteps: {old.total_timesteps} there, "
                f"{config.total_timesteps} asked); set resume: true to continue it to {config.total_timesteps:,} "
                f"steps, or use another --out (or 'out') for a new run"
            )
        return "resume"
    if finished(run, config.total_timesteps):
        return "done"
    steps = latest_checkpoint(run)
    if config.resume:
        return "resume"
    if steps is not None:
        raise ConfigError(
            f"{run} holds an unfinished run of these settings (checkpoint at {steps:,} steps); set resume: true "
            f"to continue it, or use another --out (or 'out') for a new run"
        )
    return "fresh"


def finished(run: Path, total_timesteps: int) -> bool:
    """Whether ``run`` holds a finished training of ``total_timesteps`` steps (its final model and summary)."""
    try:
        summary = json.loads((run / TRAINING_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (
        (run / CHECKPOINTS / FINAL_MODEL).is_file()
        and isinstance(summary, dict)
        and summary.get("total_timesteps") == total_timesteps
        and int(summary.get("timesteps") or 0) >= total_timesteps
    )


def estimate_memory(config: RLConfig) -> Estimate:
    """What this process allocates for the envs' randomization: every training env of a ``dummy`` vec env
    (one of a ``subproc`` one is a worker process of its own, estimated alike) and the evaluation env."""
    train_domain = (
        Estimate() if config.randomization is None else randomization_estimate(load_config(config.randomization))
    )
    here = config.n_envs if config.vec_env == "dummy" or config.n_envs == 1 else 1
    estimate = train_domain.times(here, f"{here} training env{'s' if here > 1 else ''}")
    if config.eval_freq:
        domain = config.randomization if config.eval_randomization == TRAIN else config.eval_randomization
        if isinstance(domain, dict):
            estimate += randomization_estimate(load_config(domain)).times(1, "evaluation env")
    return estimate


def resume_model(config: RLConfig, run: Path, steps: int, venv: Any) -> Any:
    """The model of checkpoint ``steps`` on ``venv`` (its ``VecNormalize`` takes the checkpoint's statistics)."""
    normalizer = run / CHECKPOINTS / f"model_vecnormalize_{steps}_steps.pkl"
    if isinstance(venv, VecNormalize) and normalizer.is_file():
        with open(normalizer, "rb") as file:
            saved = pickle.load(file)  # SB3's VecNormalize, written by this run's training
        venv.obs_rms, venv.ret_rms = saved.obs_rms, saved.ret_rms
    model = algo_class(config.algo).load(
        run / CHECKPOINTS / f"model_{steps}_steps.zip", env=venv, device="cpu", tensorboard_log=str(run / "tb")
    )
    if config.algo in OFF_POLICY:  # the replay buffer starts empty: fill it again before learning
        model.learning_starts = steps + model.learning_starts
    return model


def adr_controller(
    config: RLConfig, run: Path, resumed: int | None
) -> tuple[AdrController | None, list[dict[str, Any]] | None]:
    """The run's ADR controller and history: fresh, or as saved with checkpoint ``resumed``."""
    if config.adr is None:
        return None, None
    controller = AdrController(config.adr)
    if resumed is None:
        return controller, None
    state = run / CHECKPOINTS / CHECKPOINT_PATTERN.format(resumed)
    if not state.is_file():
        raise ConfigError(f"resume: checkpoint {resumed} of {run} has no ADR state ({state.name})")
    controller.load(state)
    return controller, [entry for entry in read_history(run) if entry["steps"] <= resumed]


def train(
    source: ConfigInput, log: Log | None = None, progress: bool = False, callbacks: Sequence[BaseCallback] = ()
) -> Path:
    """Train as the config says (or resume, see the module docstring); returns the run folder.

    Args:
        source: a ``kind: rl`` config (YAML path, mapping or ``RLConfig``).
        log: called with a line now and then (``None``: silent).
        progress: show a progress bar on stderr.
        callbacks: more stable-baselines3 callbacks, called after the run's own (``run_callbacks``) at
            every step of the model's ``learn``.
    """
    config = load_rl_config(source)
    check_env_id(config.env)
    torch.set_num_threads(config.threads)
    run = Path(config.out)
    action = check_run_folder(config, run)
    if action == "done":
        if log:
            log(f"{run} holds a finished run of these settings ({config.total_timesteps:,} steps); nothing to train")
        return run
    resumed = latest_checkpoint(run) if action == "resume" else None
    if resumed is not None and resumed >= config.total_timesteps:
        raise ConfigError(f"resume: {run} has reached {resumed:,} steps already; raise total_timesteps")
    memory = check_memory(estimate_memory(config), f"training {config.algo} on {config.env}")
    (run / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    if log and memory.total:
        log(f"estimated memory of the envs' randomization in this process: {memory.describe()}")
    write_run_files(resolved_config(config), run)
    venv = make_vec_env(config, seed=None if resumed is None else config.seed + resumed)
    try:
        fresh = resumed is None
        model = build_model(config, venv, run / "tb") if fresh else resume_model(config, run, resumed, venv)
        adr, adr_history = adr_controller(config, run, resumed)
        steps = config.total_timesteps - (resumed or 0)
        if log:
            verb = "training" if resumed is None else f"resuming at {resumed:,} steps:"
            log(f"{verb} {config.algo} on {config.env} for {steps:,} steps -> {run}")
        start = time.perf_counter()
        model.learn(
            steps,
            callback=[*run_callbacks(config, run, progress, adr, adr_history), *callbacks],
            tb_log_name=config.algo,
            reset_num_timesteps=resumed is None,
        )
        seconds = time.perf_counter() - start
        model.save(run / CHECKPOINTS / FINAL_MODEL)
        if model.get_vec_normalize_env() is not None:
            model.get_vec_normalize_env().save(str(run / CHECKPOINTS / FINAL_NORMALIZE))
        successes = list(model.ep_success_buffer)
        summary = {
            "algo": config.algo,
            "env": config.env,
            "total_timesteps": config.total_timesteps,
            "timesteps": int(model.num_timesteps),
            "resumed_from": resumed,
            "wall_seconds": seconds,
            "steps_per_second": steps / seconds,
            "last_episodes_success": float(np.mean(successes)) if successes else None,
            "last_episodes": len(successes),
            "threads": config.threads,
        }
        if adr is not None:
            summary["adr_entropy"] = adr.entropy()
            summary["adr_bounds"] = adr.ranges.as_dict()
        (run / TRAINING_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    finally:
        venv.close()
    return run


# -- command line -------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    """Run ``dr-sim train CONFIG`` for a ``kind: rl`` config: train and print the run folder."""
    data = read_with_overrides(args.config, getattr(args, "settings", ()), "training config")
    if args.out is not None:
        data["out"] = args.out
    # Relative randomization paths are taken from the config's folder, as when loading the file itself.
    for key in ("randomization", "eval_randomization"):
        randomization = data.get(key)
        if isinstance(randomization, str) and randomization.lower().endswith((".yaml", ".yml")):
            path = Path(randomization).expanduser()
            data[key] = str(path if path.is_absolute() else Path(args.config).parent / path)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    run = train(data, log, progress=not args.quiet)
    summary = json.loads((run / TRAINING_FILE).read_text())
    success = summary["last_episodes_success"]
    shown = f", success of the last {summary['last_episodes']} episodes {success:.0%}" if success is not None else ""
    print(
        f"trained {run / CHECKPOINTS / FINAL_MODEL} in {summary['wall_seconds']:.0f} s "
        f"({summary['steps_per_second']:.0f} steps/s){shown}"
    )
    return 0
