"""A set of policies trained, evaluated and audited over the same domains, resuming finished work.

A ``PolicySuite`` holds a ``base`` training config (``kind: rl``, see ``dr_sim.policies.rl_config``) and
named policies, each a mapping of keys laid over the base (a top-level key replaces the base's whole).
Each policy trains into ``runs/<name>-<hash>/run``, where the hash is that of its resolved config
(``dr_sim.run_cache``): asking again for a policy with the same settings returns the finished run, and
a changed setting trains a new one beside it, so nothing trained is lost or mistaken for another.

    suite = PolicySuite(base, {"a": {"randomization": None}, "b": {"randomization": "physics"}}, "runs/mine")
    run = suite.train("b")                                    # the run folder (trained now or before)
    results = suite.evaluate("b", ["nominal", "heavy"], episodes=100)
    reference = suite.scripted_reference(["nominal", "heavy"], episodes=100)

Domains are what ``dr-sim evaluate --domains`` takes: ``nominal``, ``train``, a preset, a named shift
(``dr_sim/config/shifts``) or a randomization YAML (relative to ``folder``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dr_sim.errors import ConfigError
from dr_sim.policies.controllers import CONTROLLERS
from dr_sim.policies.controllers.evaluate import success_rate
from dr_sim.policies.rl_config import RLConfig, load_rl_config
from dr_sim.policies.rl_evaluation import EVAL_SEED, audit, evaluate, resolve_domain
from dr_sim.policies.rl_training import TRAINING_FILE, train
from dr_sim.run_cache import RunCache
from dr_sim.statistics import pooled_success

Log = Callable[[str], None]
RUN = "run"  # the run folder inside a policy's cache folder


def pooled(domains: Mapping[str, Mapping[str, Any] | None], names: Sequence[str]) -> dict[str, Any] | None:
    """The named domains' episodes together: successes, rate and Wilson 95% interval (``None``: none there)."""
    return pooled_success(domains[name] for name in names if domains.get(name))


class PolicySuite:
    """Named training configs over one base, trained into a run cache and evaluated over domains."""

    def __init__(
        self,
        base: Mapping[str, Any],
        policies: Mapping[str, Mapping[str, Any] | None],
        runs: str | Path,
        folder: str | Path = ".",
        log: Log | None = None,
    ) -> None:
        if not policies:
            raise ConfigError("a policy suite needs at least one policy")
        self.base, self.policies = dict(base), {name: dict(keys or {}) for name, keys in policies.items()}
        self.cache = RunCache(runs)
        self.folder = Path(folder)
        self.log = log or (lambda line: None)

    def _path(self, value: Any) -> Any:
        """A randomization YAML path made relative to ``folder``; anything else unchanged."""
        if isinstance(value, str) and value.lower().endswith((".yaml", ".yml")) and not Path(value).is_absolute():
            return str(self.folder / value)
        return value

    def config(self, name: str, out: str | Path = "unused") -> RLConfig:
        """The validated training config of policy ``name`` (training into ``out``)."""
        if name not in self.policies:
            raise ConfigError(f"unknown policy {name!r}; the suite has {', '.join(self.policies)}")
        data = {**self.base, **self.policies[name], "out": str(out)}
        data["randomization"] = self._path(data.get("randomization"))
        try:
            return load_rl_config(data)
        except ConfigError as error:
            raise ConfigError(f"policies.{name}: {error}") from None

    def settings(self, name: str) -> dict[str, Any]:
        """What policy ``name``'s training depends on: its resolved config without the output folder."""
        resolved = self.config(name).model_dump(mode="json")
        resolved.pop("out", None)
        return resolved

    def train(self, name: str) -> Path:
        """Policy ``name``'s run folder, trained now unless a finished run of the same settings exists."""
        settings = self.settings(name)
        folder = self.cache.folder(name, settings)
        # Its folder is its settings': an interrupted training there resumes from its last checkpoint.
        config = self.config(name, folder / RUN).model_copy(update={"resume": True})

        def fit(folder: Path) -> dict[str, Any]:
            run = train(config, self.log, progress=True)
            return {"run": str(run), "training": json.loads((run / TRAINING_FILE).read_text())}

        result, fresh = self.cache.run(name, settings, fit)
        if not fresh:
            self.log(f"{name}: trained already ({folder / RUN})")
        return Path(result["run"])

    def training(self, name: str) -> dict[str, Any]:
        """The training summary (``training.json``) of policy ``name``, training it first if needed."""
        self.train(name)
        return self.cache.cached(name, self.settings(name))["training"]  # type: ignore[index]

    def domains(self, names: Sequence[str]) -> list[str]:
        """Domain names with randomization YAMLs made relative to ``folder``."""
        return [self._path(name) for name in names]

    def evaluate(self, name: str, domains: Sequence[str], episodes: int, seed: int = EVAL_SEED) -> dict[str, Any]:
        """Policy ``name`` (trained first if needed) over ``domains``: ``episodes`` deterministic episodes each
        (episode ``i`` reset with ``seed + i``). ``{"domains": {label: DomainResult.as_dict()}, ...}``."""
        run = self.train(name)
        self.log(f"{name}: evaluating on {', '.join(domains)} ({episodes} episodes each)")
        results = evaluate(run, self.domains(domains), episodes, seed)
        results["domains"] = dict(zip(domains, results["domains"].values(), strict=True))
        return results

    def audit(self, name: str, episodes: int, seed: int = EVAL_SEED) -> dict[str, Any]:
        """Policy ``name``'s success against each dynamics parameter (``rl_evaluation.audit``)."""
        run = self.train(name)
        self.log(f"{name}: auditing ({episodes} episodes per value)")
        return audit(run, episodes, seed=seed)

    def scripted_reference(self, domains: Sequence[str], episodes: int, seed: int = EVAL_SEED) -> dict[str, Any]:
        """The env's scripted controller over ``domains`` with the same seeds (empty when it has none): how
        hard each domain is for a policy that never learned anything."""
        config = self.config(next(iter(self.policies)))
        if config.env not in CONTROLLERS:
            return {}
        results = {}
        for label, domain in zip(domains, self.domains(domains), strict=True):
            _, randomization = resolve_domain(domain, config)
            success = success_rate(config.env, episodes, randomization, seed, **config.env_kwargs)
            results[label] = success.as_dict()
        return results
