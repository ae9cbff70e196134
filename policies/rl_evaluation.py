"""Evaluate a trained policy across domains, and audit its sensitivity to each dynamics parameter.

``dr-sim evaluate RUN [--domains nominal train heavy ...] [-n 100] [--json] [--audit] [--workers W]
[--backend local|ray [--address auto|HOST:PORT]]``

Domains: ``nominal`` (no randomization), ``train`` (the run's own randomization), a preset name, the
name of a held-out shift shipped in ``dr_sim/config/shifts/`` (``heavy``, ``light``, ``low_gains``,
``high_gains``, ``sticky_laggy``; ``dr_sim.config.shift_names``) or the path of any randomization YAML.
Episode ``i`` of every domain is reset with seed ``10_000 + i``; actions are deterministic. An episode
succeeds when ``info["is_success"]`` holds at its last step. Per domain: the success rate with its Wilson
95% interval and the mean return (the env's own reward, summed over the episode). ``RUN`` gets
``evaluation.json``, ``evaluation.md`` and ``evaluation.png`` (success per domain with the interval as
error bars).

Evaluations accumulate, never overwrite one another: ``evaluation.json`` holds ``{"run", "entries":
[...]}``, one entry per (domain, episodes, seed, model): the domain's label and the hash of its
randomization, the episode count and first seed, the SHA-256 (first 12 hex digits) of the model file
evaluated, and ``DomainResult.as_dict()``. A later call adds its entries and replaces only those with the
same key (an identical re-evaluation); ``evaluation.md`` and ``evaluation.png`` show every entry. An
``evaluation.json`` of the earlier format (one call's ``domains``) is read as entries of an unknown model.

``--audit``: success against each dynamics parameter of ``AUDIT`` (puck mass and friction, pusher link
masses, motor gains and force limits, latency), one at a time, pinned to a constant in an otherwise
nominal scene, at ``AUDIT_POINTS`` values spread geometrically from half the low end to twice the high
end of its training range (the physics preset's range when the run does not randomize it).
``RUN`` gets ``audit.json`` and ``audit.png`` (one panel per parameter, the training range shaded).

The episodes of a sweep (every domain, every audit value) run in chunks of ``CHUNK_EPISODES`` on
``--workers W`` workers (``dr_sim.backends``: local processes, or actors of a Ray cluster with
``--backend ray``), each loading the policy once from the run's files sent to it. Episode ``i`` is
reset with the same seed wherever it runs, so the numbers equal a one-process run's.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import pickle
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

from dr_sim.arguments import positive_int
from dr_sim.backends import Backend, add_backend_arguments, backend_from_args, run_units
from dr_sim.config import PRESETS, preset_dict, shift_names, shift_path
from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.extras import require
from dr_sim.file_io import write_atomically
from dr_sim.policies.rl_config import OFF_POLICY, RLConfig, algo_class, expand_randomization
from dr_sim.policies.rl_training import (
    CHECKPOINTS,
    FINAL_MODEL,
    FINAL_NORMALIZE,
    env_factory,
    load_run_config,
)
from dr_sim.progress import Progress
from dr_sim.statistics import Success

EVAL_SEED = 10_000
AUDIT_POINTS = 7
EVALUATION_FILE = "evaluation"  # .json, .md, .png
AUDIT_FILE = "audit"  # .json, .png
CHUNK_EPISODES = 10  # episodes per unit of work of a sweep
PLOTS = "the evaluation's plots"


# -- domains ------------------------------------------------------------------------------------------
def resolve_domain(name: str, config: RLConfig) -> tuple[str, dict[str, Any] | None]:
    """(label, randomization mapping or ``None``) of a domain name; one ``ConfigError`` for an unknown one."""
    if name == "nominal":
        return name, None
    if name == "train":
        return name, config.randomization
    if name in PRESETS:
        return name, expand_randomization(name)
    if name.lower().endswith((".yaml", ".yml")):
        return Path(name).stem, expand_randomization(name)
    if name in shift_names():
        return name, expand_randomization(str(shift_path(name)))
    known = ["nominal", "train", *PRESETS, *shift_names()]
    raise ConfigError(
        f"unknown domain {name!r}.{did_you_mean(name, known)} Use nominal, train, a preset, a shift "
        f"({', '.join(shift_names()) or 'none found'}) or a randomization YAML path"
    )


# -- a loaded policy ----------------------------------------------------------------------------------
@dataclass
class Policy:
    """A trained run: its config, model and observation normalization (``None`` without it)."""

    config: RLConfig
    model: Any
    normalizer: Any
    run: Path

    def act(self, observation: Any, state: Any, episode_start: bool) -> tuple[np.ndarray, Any]:
        """The deterministic action (and the recurrent state) for one observation."""
        if self.normalizer is not None:
            observation = self.normalizer.normalize_obs(observation)
        if self.config.algo == "recurrent_ppo":
            return self.model.predict(
                observation, state=state, episode_start=np.array([episode_start]), deterministic=True
            )
        action, _ = self.model.predict(observation, deterministic=True)
        return action, None


@dataclass(frozen=True)
class SavedPolicy:
    """A run's final policy as its config and file bytes (``checkpoints/model_final.zip`` and the
    normalization pickle, ``None`` without one): picklable, so workers load it without the run folder."""

    config: RLConfig
    model: bytes
    normalize: bytes | None
    run: str

    @property
    def model_hash(self) -> str:
        """The first 12 hex digits of the SHA-256 of the model file (and its normalization): which policy."""
        digest = hashlib.sha256(self.model)
        digest.update(self.normalize or b"")
        return digest.hexdigest()[:12]

    @classmethod
    def read(cls, run: str | Path) -> SavedPolicy:
        """Read a run folder; one ``ConfigError`` when it is not a run or holds no final model."""
        run = Path(run)
        config = load_run_config(run)
        model_path = run / CHECKPOINTS / FINAL_MODEL
        if not model_path.is_file():
            raise ConfigError(f"{run} holds no trained model ({CHECKPOINTS}/{FINAL_MODEL}): has its training finished?")
        normalize = run / CHECKPOINTS / FINAL_NORMALIZE
        return cls(config, model_path.read_bytes(), normalize.read_bytes() if normalize.is_file() else None, str(run))

    def load(self) -> Policy:
        """The model, ready to act (torch set to the run's thread count)."""
        torch.set_num_threads(self.config.threads)
        # Acting needs no replay buffer: load off-policy models with a minimal plain one (HER's needs an env).
        small_buffer = {"buffer_size": 1, "replay_buffer_class": None, "replay_buffer_kwargs": {}}
        model = algo_class(self.config.algo).load(
            io.BytesIO(self.model),
            device="cpu",
            custom_objects=small_buffer if self.config.algo in OFF_POLICY else None,
        )
        normalizer = None
        if self.normalize is not None:
            normalizer = pickle.loads(self.normalize)  # SB3's VecNormalize statistics, written by this run's training
            normalizer.training = False
        return Policy(self.config, model, normalizer, Path(self.run))


def load_policy(run: str | Path) -> Policy:
    """The final model of a run folder (``checkpoints/model_final.zip`` and its normalization)."""
    return SavedPolicy.read(run).load()


@dataclass(frozen=True)
class DomainResult:
    """Outcomes of ``episodes`` episodes in one domain: successes and returns (the env's reward summed)."""

    successes: int
    returns: tuple[float, ...]

    @property
    def success(self) -> Success:
        return Success(self.successes, len(self.returns))

    def as_dict(self) -> dict[str, Any]:
        low, high = self.success.interval
        return {
            "successes": self.successes,
            "episodes": len(self.returns),
            "success_rate": self.success.rate,
            "ci_low": low,
            "ci_high": high,
            "mean_return": float(np.mean(self.returns)),
            "std_return": float(np.std(self.returns)),
        }

    @staticmethod
    def merged(parts: Sequence[DomainResult]) -> DomainResult:
        """The results of consecutive chunks of episodes as one (returns in episode order)."""
        return DomainResult(sum(part.successes for part in parts), tuple(r for part in parts for r in part.returns))


def run_episodes(
    policy: Policy,
    env: Any,
    episodes: range,
    seed: int = EVAL_SEED,
    on_info: Callable[[dict[str, Any]], None] | None = None,
    tick: Callable[[], None] | None = None,
) -> DomainResult:
    """Deterministic episodes ``episodes`` of ``policy`` in ``env``, episode ``i`` reset with ``seed + i``;
    ``on_info`` (if given) sees the ``info`` of every reset and step, ``tick`` (if given) is called after
    each episode."""
    successes, returns = 0, []
    for i in episodes:
        observation, info = env.reset(seed=seed + i)
        if on_info is not None:
            on_info(info)
        state, start, total, done = None, True, 0.0, False
        success = bool(info.get("is_success", False))
        while not done:
            action, state = policy.act(observation, state, start)
            observation, reward, terminated, truncated, info = env.step(action)
            if on_info is not None:
                on_info(info)
            start, total = False, total + float(reward)
            success, done = bool(info.get("is_success", False)), terminated or truncated
        successes += success
        returns.append(total)
        if tick is not None:
            tick()
    return DomainResult(successes, tuple(returns))


# -- sweeps: chunks of episodes on workers ------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    """Episodes ``start .. stop - 1`` of domain ``domain`` of a sweep (``randomization``; ``None``: nominal)."""

    domain: int
    label: str
    randomization: dict[str, Any] | None
    start: int
    stop: int
    seed: int

    def __str__(self) -> str:
        return f"of episodes {self.start}-{self.stop - 1} in {self.label}"


class EpisodeRunner:
    """A sweep worker (``dr_sim.backends.Worker``): the run's policy, loaded once, plays chunks of
    episodes; the env of the last domain is kept for the next chunk of the same domain."""

    def __init__(self, saved: SavedPolicy) -> None:
        self.policy = saved.load()
        self.env: Any = None
        self.domain: str | None = None

    def __call__(self, chunk: Chunk, tick: Callable[[], None]) -> DomainResult:
        domain = json.dumps(chunk.randomization, sort_keys=True)
        if domain != self.domain:
            self._close_env()
            self.env = env_factory(self.policy.config, chunk.randomization, monitor=False)()
            self.domain = domain
        return run_episodes(self.policy, self.env, range(chunk.start, chunk.stop), chunk.seed, tick=tick)

    def _close_env(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env, self.domain = None, None

    def close(self) -> None:
        self._close_env()


def sweep(
    run: str | Path,
    domains: Sequence[tuple[str, dict[str, Any] | None]],
    n: int,
    seed: int = EVAL_SEED,
    *,
    workers: int = 1,
    backend: Backend | None = None,
    saved: SavedPolicy | None = None,
    progress: bool = False,
) -> list[DomainResult]:
    """``n`` episodes of the run's policy in each (label, randomization) domain, in chunks of
    ``CHUNK_EPISODES`` on ``workers`` workers of ``backend``; one ``DomainResult`` per domain, in order.
    ``saved``: the run's policy, read already; ``progress``: a bar of episodes on stderr."""
    saved = saved or SavedPolicy.read(run)
    chunks = [
        Chunk(k, label, randomization, start, min(n, start + CHUNK_EPISODES), seed)
        for k, (label, randomization) in enumerate(domains)
        for start in range(0, n, CHUNK_EPISODES)
    ]
    parts: dict[int, dict[int, DomainResult]] = defaultdict(dict)
    bar = Progress(n * len(domains), "evaluate", "episodes", enabled=progress)
    finished, running = 0, {}  # episodes of the chunks done; (domain, start) -> episodes done of that chunk

    def keep(chunk: Chunk, result: DomainResult) -> None:
        nonlocal finished
        parts[chunk.domain][chunk.start] = result
        running.pop((chunk.domain, chunk.start), None)
        finished += chunk.stop - chunk.start
        bar.update(finished + sum(running.values()))

    def on_tick(chunk: Chunk, episodes: int) -> None:
        running[chunk.domain, chunk.start] = episodes
        bar.update(finished + sum(running.values()))

    try:
        run_units(
            EpisodeRunner, (saved,), chunks, keep, workers=workers, backend=backend, on_tick=on_tick, what="the chunk"
        )
    finally:
        bar.close()
    return [DomainResult.merged([parts[k][start] for start in sorted(parts[k])]) for k in range(len(domains))]


def evaluate(
    run: str | Path,
    domains: Sequence[str] = ("nominal", "train"),
    n: int = 100,
    seed: int = EVAL_SEED,
    *,
    workers: int = 1,
    backend: Backend | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Success (Wilson 95% interval) and mean return of a run's final policy per domain, its episodes run
    by ``workers`` workers of ``backend`` (default: this process); ``progress``: a bar on stderr.

    Returns ``{"run", "episodes", "seed", "model" (hash of the model evaluated), "domains": {label:
    DomainResult.as_dict()}, "domain_hashes": {label: hash of its randomization}}``.
    """
    if n <= 0:
        raise ConfigError(f"the number of episodes must be positive, got {n}")
    config = load_run_config(run)
    resolved = [resolve_domain(name, config) for name in domains]  # every bad name before any episode
    saved = SavedPolicy.read(run)
    results = sweep(run, resolved, n, seed, workers=workers, backend=backend, saved=saved, progress=progress)
    return {
        "run": str(run),
        "episodes": n,
        "seed": seed,
        "model": saved.model_hash,
        "domains": {label: result.as_dict() for (label, _), result in zip(resolved, results, strict=True)},
        "domain_hashes": {label: domain_hash(randomization) for label, randomization in resolved},
    }


def domain_hash(randomization: Mapping[str, Any] | None) -> str:
    """The first 12 hex digits of the SHA-256 of a domain's randomization as canonical JSON."""
    text = json.dumps(randomization, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- reports ------------------------------------------------------------------------------------------
def _pyplot() -> Any:
    """``matplotlib.pyplot`` drawing into files (the Agg backend)."""
    require("matplotlib", PLOTS).use("Agg")
    return require("matplotlib.pyplot", PLOTS)


def success_cell(result: Mapping[str, Any]) -> str:
    """``85% [77%, 91%]``: the success rate and its Wilson 95% interval."""
    return f"{result['success_rate']:.0%} [{result['ci_low']:.0%}, {result['ci_high']:.0%}]"


def format_table(results: Mapping[str, Any]) -> str:
    """A markdown table of one run's results: success [95% CI] and mean return per domain."""
    lines = ["| domain | success [95% CI] | mean return | episodes |", "|---|---|---|---|"]
    for label, result in results["domains"].items():
        lines.append(
            f"| {label} | {success_cell(result)} | {result['mean_return']:.2f} ± {result['std_return']:.2f} "
            f"| {result['episodes']} |"
        )
    return "\n".join(lines) + "\n"


def plot_success(by_policy: Mapping[str, Mapping[str, Mapping[str, Any]]], path: Path, title: str = "") -> Path:
    """A bar plot (PNG) of success per domain, one bar per policy, Wilson 95% intervals as error bars.

    ``by_policy``: policy -> domain -> ``DomainResult.as_dict()``."""
    plt = _pyplot()

    policies = list(by_policy)
    domains = list(dict.fromkeys(domain for results in by_policy.values() for domain in results))
    width = 0.8 / max(len(policies), 1)
    figure, axis = plt.subplots(figsize=(min(14.0, 3.0 + 0.25 * len(domains) * len(policies)), 3.6), dpi=100)
    for index, policy in enumerate(policies):
        x = np.arange(len(domains)) + (index - (len(policies) - 1) / 2) * width
        rows = [by_policy[policy].get(domain) for domain in domains]
        rates = np.array([row["success_rate"] if row else np.nan for row in rows])
        # Clipped at 0: a rate of 1 can sit a rounding error above its interval's upper end.
        low = np.maximum([row["success_rate"] - row["ci_low"] if row else 0.0 for row in rows], 0.0)
        high = np.maximum([row["ci_high"] - row["success_rate"] if row else 0.0 for row in rows], 0.0)
        axis.bar(x, rates, width, yerr=[low, high], capsize=2, label=policy)
    axis.set_xticks(np.arange(len(domains)), domains, rotation=20, ha="right")
    axis.set_ylabel("success rate")
    axis.set_ylim(0, 1.05)
    axis.set_title(title, fontsize=9)
    if len(policies) > 1:
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


ENTRY_KEY = ("domain", "domain_hash", "episodes", "seed", "model")  # what makes two entries the same evaluation


def evaluation_entries(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of one ``evaluate`` call: one per domain, keyed by ``ENTRY_KEY``."""
    hashes = results.get("domain_hashes") or {}
    return [
        {
            "domain": label,
            "domain_hash": hashes.get(label),
            "episodes": results["episodes"],
            "seed": results["seed"],
            "model": results.get("model"),
            **row,
        }
        for label, row in results["domains"].items()
    ]


def read_evaluations(run: Path) -> list[dict[str, Any]]:
    """The entries of a run's ``evaluation.json`` (none when there is none); the earlier one-call format
    is read as entries of an unknown model. One ``ConfigError`` when the file is not readable as either."""
    path = run / f"{EVALUATION_FILE}.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"{str(path)!r} is not valid JSON ({error}); move it away to start the run's evaluations afresh"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        return [dict(entry) for entry in data["entries"] if isinstance(entry, dict)]
    if isinstance(data, dict) and isinstance(data.get("domains"), dict) and "episodes" in data:
        return evaluation_entries({**data, "seed": data.get("seed", EVAL_SEED)})
    raise ConfigError(f"{str(path)!r} is not an evaluation of dr-sim evaluate; move it away to start afresh")


def merge_entries(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``old`` with each entry of ``new`` in place of the one of the same key, the others appended."""

    def key(entry: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(entry.get(name) for name in ENTRY_KEY)

    merged = {key(entry): dict(entry) for entry in old}
    for entry in new:
        merged[key(entry)] = dict(entry)
    return list(merged.values())


def entry_labels(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """A unique label per entry: the domain, with its episodes and seed, its randomization's hash and the
    model when other entries of the same domain differ in them."""
    labels = []
    for entry in entries:
        same = [other for other in entries if other["domain"] == entry["domain"]]
        label = entry["domain"]
        if len({(other["episodes"], other["seed"]) for other in same}) > 1:
            label += f" (n={entry['episodes']}, seed={entry['seed']})"
        if len({other.get("domain_hash") for other in same}) > 1:
            label += f" [{entry.get('domain_hash') or '?'}]"
        if len({other.get("model") for other in entries}) > 1:
            label += f" @{entry.get('model') or 'unknown model'}"
        labels.append(label)
    return labels


def format_entries(entries: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table of every evaluation entry of a run: domain, success [95% CI], mean return,
    episodes, seed and the model evaluated."""
    lines = [
        "| domain | success [95% CI] | mean return | episodes | seed | model |",
        "|---|---|---|---|---|---|",
    ]
    for entry in entries:
        lines.append(
            f"| {entry['domain']} | {success_cell(entry)} | {entry['mean_return']:.2f} ± {entry['std_return']:.2f} "
            f"| {entry['episodes']} | {entry['seed']} | {entry.get('model') or 'unknown'} |"
        )
    return "\n".join(lines) + "\n"


def write_evaluation(results: Mapping[str, Any], run: Path) -> list[dict[str, Any]]:
    """Add one ``evaluate`` call's results to the run's ``evaluation.json``, ``evaluation.md`` and
    ``evaluation.png`` (see the module docstring): earlier entries are kept, an entry of the same key is
    replaced. Returns every entry."""
    with FileLock(run / f".{EVALUATION_FILE}.lock"):  # two evaluations at once each keep the other's entries
        entries = merge_entries(read_evaluations(run), evaluation_entries(results))
        document = {"run": str(run), "entries": entries}
        write_atomically(run / f"{EVALUATION_FILE}.json", (json.dumps(document, indent=1) + "\n").encode())
        write_atomically(run / f"{EVALUATION_FILE}.md", format_entries(entries).encode())
        rows = dict(zip(entry_labels(entries), entries, strict=True))
        plot_success({run.name: rows}, run / f"{EVALUATION_FILE}.png", f"{run.name}: success per domain")
    return entries


# -- sensitivity audit --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditParameter:
    """A dynamics parameter to sweep: where a config holds it and how to pin it.

    ``selects``: the link selectors whose entries hold it (``physics.links``), in order of preference;
    empty for an ``actuation`` parameter. ``op``: how the value combines with the nominal (``set``/``scale``).
    """

    name: str
    label: str
    key: str
    selects: tuple[str, ...] = ()
    op: str = "set"
    nominal: float | None = 1.0  # None: no finite nominal value (no latency)

    def pinned(self, value: float) -> dict[str, Any]:
        """A randomization that fixes this parameter at ``value`` and leaves everything else nominal."""
        param = {"type": "constant", "value": float(value)}
        if not self.selects:
            return {"actuation": {"required": False, self.key: param}}
        return {"physics": {"links": [{"select": self.selects[0], self.key: {**param, "op": self.op}}]}}

    def training_range(self, randomization: Mapping[str, Any] | None) -> tuple[float, float] | None:
        """(low, high) of this parameter's distribution in a randomization mapping, or ``None``."""
        if not randomization:
            return None
        if not self.selects:
            return param_range((randomization.get("actuation") or {}).get(self.key))
        entries = (randomization.get("physics") or {}).get("links") or []
        for select in self.selects:
            for entry in reversed(entries):  # a later entry overrides an earlier one
                param = entry.get(self.key)
                if entry.get("select", "*") == select and param and param.get("op", "set") == self.op:
                    return param_range(param)
        return None


def param_range(param: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The (low, high) a scalar distribution spans (a normal: mean +- 2 std), or ``None``."""
    if not param:
        return None
    kind = param.get("type")
    values: list[Any]
    if kind in ("uniform", "log_uniform", "truncated_normal", "truncated_log_normal") and "low" in param:
        values = [param["low"], param["high"]]
    elif kind == "constant":
        values = [param["value"], param["value"]]
    elif kind == "normal":
        values = [param["mean"] - 2 * param["std"], param["mean"] + 2 * param["std"]]
    elif kind == "choice":
        values = [min(param["values"]), max(param["values"])]
    else:
        return None
    if not all(isinstance(value, int | float) for value in values):
        return None  # a vector parameter
    return float(values[0]), float(values[1])


AUDIT = (
    AuditParameter("puck_mass", "puck mass (kg)", "mass", ("object/*",), "set", 0.2),
    AuditParameter("puck_friction", "puck lateral friction", "lateral_friction", ("object/*",), "set", 0.5),
    AuditParameter("pusher_mass", "pusher link masses (x nominal)", "mass", ("pusher/*", "*"), "scale", 1.0),
    AuditParameter("gain_scale", "motor gains (x nominal)", "gain_scale"),
    AuditParameter("force_scale", "motor force limits (x nominal)", "force_scale"),
    AuditParameter("latency_rate", "latency rate lambda (1/s)", "latency_rate", nominal=None),
)


def audit_values(low: float, high: float, points: int = AUDIT_POINTS) -> list[float]:
    """``points`` values spread geometrically from ``low / 2`` to ``2 * high``."""
    return [float(value) for value in np.geomspace(low / 2, 2 * high, points)]


def audit(
    run: str | Path,
    n: int = 30,
    points: int = AUDIT_POINTS,
    seed: int = EVAL_SEED,
    *,
    workers: int = 1,
    backend: Backend | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Success against each parameter of ``AUDIT`` (see the module docstring); ``n`` episodes per value,
    run by ``workers`` workers of ``backend`` (default: this process); ``progress``: a bar on stderr.

    Returns ``{"run", "episodes", "parameters": {name: {"label", "range", "range_source", "nominal",
    "points": [{"value", **DomainResult.as_dict()}]}}}``."""
    config = load_run_config(run)
    reference = preset_dict("physics")
    parameters, domains = {}, []
    for parameter in AUDIT:
        trained = parameter.training_range(config.randomization)
        span = trained or parameter.training_range(reference)
        if span is None:
            continue
        values = audit_values(*span, points)
        domains += [(f"{parameter.name}={value:.4g}", parameter.pinned(value)) for value in values]
        parameters[parameter.name] = {
            "label": parameter.label,
            "range": list(span),
            "range_source": "training" if trained else "physics preset (not randomized in training)",
            "nominal": parameter.nominal,
            "points": [{"value": value} for value in values],
        }
    results = iter(sweep(run, domains, n, seed, workers=workers, backend=backend, progress=progress))
    for entry in parameters.values():
        for point in entry["points"]:
            point.update(next(results).as_dict())
    return {"run": str(run), "episodes": n, "seed": seed, "parameters": parameters}


def plot_audit(by_policy: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """One panel per parameter: success (Wilson 95% band) against the value, one line per policy, the
    range of the first policy's ``range`` shaded. ``by_policy``: policy -> ``audit(...)["parameters"]``."""
    plt = _pyplot()
    ticker = require("matplotlib.ticker", PLOTS)

    names = list(dict.fromkeys(name for parameters in by_policy.values() for name in parameters))
    columns = min(3, max(len(names), 1))
    rows = max(math.ceil(len(names) / columns), 1)
    figure, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 2.9 * rows), dpi=100, squeeze=False)
    for axis, name in zip(axes.flat, names, strict=False):
        shaded = False
        for policy, parameters in by_policy.items():
            if name not in parameters:
                continue
            entry = parameters[name]
            values = [point["value"] for point in entry["points"]]
            axis.plot(values, [point["success_rate"] for point in entry["points"]], marker="o", ms=3, label=policy)
            low = [point["ci_low"] for point in entry["points"]]
            axis.fill_between(values, low, [point["ci_high"] for point in entry["points"]], alpha=0.15)
            if not shaded:
                axis.axvspan(*entry["range"], color="0.85", zorder=0, label="training range")
                if entry["nominal"] is not None:
                    axis.axvline(entry["nominal"], color="0.4", ls="--", lw=0.8, label="nominal")
                axis.set_title(entry["label"], fontsize=9)
                shaded = True
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_ylim(-0.03, 1.03)
        axis.set_ylabel("success rate", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_axis_off()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(len(labels), 6))
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def format_audit(result: Mapping[str, Any]) -> str:
    """The audit as text: per parameter, success at each value."""
    lines = []
    for entry in result["parameters"].values():
        cells = ", ".join(f"{point['value']:.3g}: {point['success_rate']:.0%}" for point in entry["points"])
        lines.append(f"{entry['label']} (range {entry['range'][0]:g}-{entry['range'][1]:g}): {cells}")
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------------
def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``evaluate`` subcommand's arguments for ``kind: rl`` runs."""
    parser.add_argument("run", metavar="RUN", help="run folder of 'dr-sim train' (kind: rl)")
    parser.add_argument(
        "--domains",
        nargs="+",
        default=["nominal", "train"],
        metavar="DOMAIN",
        help=(
            f"nominal, train, a preset, a shift ({', '.join(shift_names())}) or a randomization YAML "
            f"(default: nominal train)"
        ),
    )
    parser.add_argument("-n", "--episodes", type=positive_int, default=100, help="episodes per domain (default 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--audit", action="store_true", help="also sweep each dynamics parameter (audit.png)")
    parser.add_argument("--audit-episodes", type=positive_int, default=30, help="episodes per audit value (default 30)")
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="workers running episodes, one policy each (default 1)"
    )
    add_backend_arguments(parser)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``dr-sim evaluate RUN``: the table (or JSON) on stdout, the report files in the run folder."""
    run = Path(args.run)
    backend = backend_from_args(args)
    with backend.open(args.workers):  # one Ray connection for the evaluation and the audit
        results = evaluate(
            run, args.domains, args.episodes, workers=args.workers, backend=backend, progress=not args.quiet
        )
        kept = write_evaluation(results, run)
        if args.audit:
            audited = audit(run, args.audit_episodes, workers=args.workers, backend=backend, progress=not args.quiet)
            (run / f"{AUDIT_FILE}.json").write_text(json.dumps(audited, indent=1) + "\n")
            plot_audit({run.name: audited["parameters"]}, run / f"{AUDIT_FILE}.png")
            results = {**results, "audit": audited}
    if args.json:
        print(json.dumps(results))
    else:
        print(format_table(results), end="")
        if args.audit:
            print(format_audit(results["audit"]))
        print(f"(reports in {run}: {len(kept)} evaluation entries side by side)", file=sys.stderr)
    return 0
