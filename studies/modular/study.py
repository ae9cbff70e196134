"""The modular sim-to-real pipeline study (Tobin plus Peng) on ``dr_sim/PuckPush-v0``.

``python -m studies.modular [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

1. The state policy: the Peng study's policy named in ``policy`` (``studies/peng/config.yaml``), trained
   into the Peng study's ``runs/peng/policies`` when no finished run of the same settings is there.
2. The pose network: trained by the ``kind: pose`` config ``perception`` on the training look (cached
   under the hash of its settings); the held-out photo textures are written first.
3. Evaluation, ``episodes`` deterministic episodes per domain (episode ``i`` reset with seed ``10_000 + i``),
   one point each: the policy on the true state (nominal, each shift), and the pipeline
   (``dr_sim.policies.modular``) in the training look, in the held-out look (a visual shift alone) and in
   the held-out look under each dynamics shift (a visual plus a dynamics shift). A diagnostic row shows
   the held-out look through the exact nominal camera: what the look costs without the camera's pose
   error. Per domain: success with its Wilson 95% interval, the mean return and the pose network's mean
   error along the episodes (cm).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dr_sim.config.loader import read_source, read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.policies.modular import PoseEstimator, make_modular_env
from dr_sim.policies.policy_suite import PolicySuite, pooled
from dr_sim.policies.pose_sweep import generator_dict
from dr_sim.policies.rl_evaluation import load_policy, resolve_domain, run_episodes
from dr_sim.policies.rl_training import env_factory
from studies.harness import Point, Report, Study, Table, cm_cell, success_cell
from studies.harness.study import RUNS
from studies.heldout.textures import write_textures

STATE = "true state"
MODULAR = "modular (pose network)"
TRAINING_LOOK = "training look"
HELDOUT_LOOK = "held-out look"
EXACT_CAMERA = "held-out look, exact camera (diagnostic)"
VISUAL_AND_DYNAMICS = "held-out look + shifts (pooled)"
SHIFTED = "shifts (pooled)"
POLICY_RUNS = RUNS / "peng" / "policies"  # where the Peng study trains its policies


class PolicySource(StrictModel):
    """The state policy: a policy of a Peng study config (its YAML relative to the study's file)."""

    study: str
    name: str


class StudyConfig(StrictModel):
    """The study (see ``studies/modular/config.yaml`` for each key)."""

    episodes: int = Field(default=100, gt=0)
    seed: int = Field(default=10_000, ge=0)
    policy: PolicySource
    perception: str
    look: str
    heldout_look: str
    shifts: list[str] = Field(min_length=1)


def merged(*configs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One randomization from parts that set different sections (a look and a dynamics shift).

    Raises ``ConfigError`` when two parts set the same section: neither may silently win."""
    result: dict[str, Any] = {}
    for part in configs:
        for key, value in (part or {}).items():
            if key in result:
                raise ConfigError(f"a look and a dynamics shift both set {key!r}; each section may come from one only")
            result[key] = value
    return result or None


def exact_camera(look: Mapping[str, Any]) -> dict[str, Any]:
    """``look`` seen through its nominal camera: every camera offset removed, the rest kept."""
    camera = look.get("camera")
    if not camera:
        return dict(look)
    return (
        {**look, "camera": {"nominal": camera["nominal"]}}
        if "nominal" in camera
        else {key: value for key, value in look.items() if key != "camera"}
    )


def domain_row(
    policy_run: Path, randomization: dict[str, Any] | None, n: int, seed: int, estimator: Any = None
) -> dict[str, Any]:
    """``n`` deterministic episodes of the policy (episode ``i`` reset with ``seed + i``); with ``estimator``
    the object's position comes from the pose network. Success, its interval, return and pose error."""
    policy = load_policy(policy_run)
    config = policy.config
    if estimator is None:
        env = env_factory(config, randomization, monitor=False)()
    else:
        env = make_modular_env(
            config.env, config.env_kwargs, randomization, estimator, config.history, config.max_episode_steps
        )
    errors: list[float] = []

    def record(info: dict[str, Any]) -> None:
        if "perception_error" in info:
            errors.append(info["perception_error"])

    try:
        result = run_episodes(policy, env, range(n), seed, record)
    finally:
        env.close()
    row = result.as_dict()
    if errors:
        row["perception_error_cm"] = 100.0 * float(np.mean(errors))
        row["perception_error_p90_cm"] = 100.0 * float(np.percentile(errors, 90))
    return row


def pooled_rows(rows: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any] | None:
    """The named domains' episodes together: successes, rate and Wilson 95% interval, mean pose error."""
    result = pooled(rows, names)
    errors = [rows[name]["perception_error_cm"] for name in names if "perception_error_cm" in rows.get(name, {})]
    if result is not None and errors:
        result["perception_error_cm"] = float(np.mean(errors))
    return result


class ModularStudy(Study):
    """One point per (pipeline, domain); the policy and the pose network are trained once, cached."""

    name = "modular"
    config_model = StudyConfig
    config: StudyConfig

    def __init__(self, config: StudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        peng, _, peng_folder = read_source(self.path(config.policy.study), "Peng study config")
        if config.policy.name not in (peng.get("policies") or {}):
            names = ", ".join(peng.get("policies") or {})
            raise ConfigError(f"policy.name {config.policy.name!r} is not a policy of {config.policy.study}: {names}")
        self.suite = PolicySuite(peng.get("base") or {}, peng["policies"], POLICY_RUNS, peng_folder, self.log)
        self.estimator: PoseEstimator | None = None
        self.policy_run = Path()

    def pose_config(self) -> dict[str, Any]:
        """The pose network's ``kind: pose`` config with its generators read (what the network depends on)."""
        data = read_yaml_mapping(self.path(self.config.perception), "pose config")
        data["data"] = {**data["data"], "generator": generator_dict(self.path(data["data"]["generator"]))}
        data["eval"] = {
            name: {**spec, "generator": generator_dict(self.path(spec["generator"]))}
            for name, spec in (data.get("eval") or {}).items()
        }
        return data

    def train_pose(self, folder: Path) -> dict[str, Any]:
        """Train the pose network into ``folder`` (its data sets inside it); its metrics."""
        from dr_sim.policies import pose_training  # needs torch (extra: train)

        data = self.pose_config()
        data["data"]["out"] = str(folder / "data" / "train")
        for name, spec in data["eval"].items():
            spec["out"] = str(folder / "data" / name)
        data["out"] = str(folder / "pose")
        self.log(f"pose network: training ({self.config.perception})")
        run = pose_training.train(data, self.log)
        return {"run": str(run), "metrics": json.loads((run / pose_training.METRICS_FILE).read_text())}

    def prepare(self) -> None:
        write_textures()  # the held-out look's photographs (kept when written before)
        self.policy_run = self.suite.train(self.config.policy.name)
        pose, _ = self.cache.run("pose_network", self.pose_config(), self.train_pose)
        self.pose = pose
        self.estimator = PoseEstimator(Path(pose["run"]))

    def domains(self) -> dict[str, dict[str, dict[str, Any] | None]]:
        """Pipeline -> domain -> randomization."""
        look = read_yaml_mapping(self.path(self.config.look), "randomization")
        heldout = read_yaml_mapping(self.path(self.config.heldout_look), "randomization")
        policy = self.suite.config(self.config.policy.name)
        shifts = {name: resolve_domain(name, policy)[1] for name in self.config.shifts}
        return {
            STATE: {"nominal": None, **shifts},
            MODULAR: {
                TRAINING_LOOK: look,
                HELDOUT_LOOK: heldout,
                EXACT_CAMERA: exact_camera(heldout),
                **{f"{HELDOUT_LOOK} + {name}": merged(heldout, shift) for name, shift in shifts.items()},
            },
        }

    def points(self) -> dict[str, Point]:
        policy = self.suite.settings(self.config.policy.name)
        pose = self.pose_config()
        result = {}
        for pipeline, domains in self.domains().items():
            for domain, randomization in domains.items():
                settings = {
                    "policy": policy,
                    "randomization": randomization,
                    "episodes": self.config.episodes,
                    "seed": self.config.seed,
                    **({"pose": pose} if pipeline == MODULAR else {}),
                }
                name = f"{pipeline} / {domain}"
                result[name] = Point(name, settings, pipeline, {"domain": domain, "randomization": randomization})
        return result

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        estimator = self.estimator if point.group == MODULAR else None
        randomization, episodes, seed = point.extra["randomization"], self.config.episodes, self.config.seed
        row = domain_row(self.policy_run, randomization, episodes, seed, estimator)
        error = f", pose error {row['perception_error_cm']:.2f} cm" if "perception_error_cm" in row else ""
        self.log(f"{point.name}: success {row['success_rate']:.2f}{error}")
        return {"pipeline": point.group, "domain": point.extra["domain"], **row}

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        rows: dict[str, dict[str, Any]] = {STATE: {}, MODULAR: {}}
        for result in results.values():
            rows[result["pipeline"]][result["domain"]] = result
        rows[STATE][SHIFTED] = pooled_rows(rows[STATE], self.config.shifts)
        rows[MODULAR][VISUAL_AND_DYNAMICS] = pooled_rows(
            rows[MODULAR], [f"{HELDOUT_LOOK} + {name}" for name in self.config.shifts]
        )
        metrics = self.pose["metrics"]
        val = (metrics.get("val") or {}).get("subsets", {}).get("all", {}).get("mean_cm")
        heldout = ((metrics.get("eval") or {}).get("heldout") or {}).get("subsets", {}).get("all", {}).get("mean_cm")
        table = Table("", ["pipeline", "domain", "success [95% CI]", "mean return", "pose error (cm)"])
        for pipeline, by_domain in rows.items():
            for domain, row in by_domain.items():
                if row is None:
                    continue
                mean_return = f"{row['mean_return']:.2f}" if "mean_return" in row else "-"
                table.rows.append(
                    [pipeline, domain, success_cell(row), mean_return, cm_cell(row.get("perception_error_cm"))]
                )
        paragraphs = [
            f"Success rate [Wilson 95% interval] over {self.config.episodes} deterministic episodes per domain "
            f"(seeds {self.config.seed} + i); pose error: the mean distance (cm) between the network's estimate "
            "and the puck's true position over every observation of the domain's episodes.",
            f"Pose network: {cm_cell(val)} cm on held-back training-look images, {cm_cell(heldout)} cm on "
            f"held-out-look images; trained in {metrics.get('train_seconds', 0) / 60:.1f} min.",
        ]
        title = "The modular pipeline on PuckPush: pose network + dynamics-randomized state policy"
        data = {"results": rows, "pose": {"val_cm": val, "heldout_cm": heldout}, "config": self.config.model_dump()}
        return Report(title, paragraphs, [table], [], data)

    def plots(self, report: Report, out: Path) -> None:
        from dr_sim.policies.rl_evaluation import plot_success  # matplotlib (extra: train)

        rows = {
            pipeline: {k: v for k, v in domains.items() if v} for pipeline, domains in report.data["results"].items()
        }
        plot_success(
            rows,
            out / "results.png",
            "PuckPush: the state policy on the true state and through the pose network (Wilson 95% intervals)",
        )
