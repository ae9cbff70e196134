"""Sim-to-sim adaptation (James et al. 2019's shape) on the perception study's held-out domain.

``python -m studies.adaptation [CONFIG] [--out DIR] [--set KEY=VALUE ...]``

The perception study (``studies/perception``, its config named by ``perception``, read as data) provides
the pose networks and the held-out set: its ``canonical`` network (trained on canonical images only),
its ``full`` network (trained with full randomization) and its held-out sets. They are taken from its
run cache (``runs/perception``), and trained there, with the same settings and so the same cache
folders, when missing. Then:

1. paired renders of the ``full`` arm's generator settings and randomization (randomized and canonical
   look of each state, ``dr_sim.datasets.paired``), and RCAN trained on them (``dr_sim.adapt``, the
   ``translator`` keys of the config), cached under the hash of its config;
2. three pipelines scored on the held-out set (and each variant) with the perception study's metric
   (mean error on the table plane, cm): the canonical-only network, the full-randomization network,
   and RCAN's translation followed by the canonical-only network;
3. the gap meter's AUC (``dr_sim.gap``) between held-out images and canonical images, before and after
   translation, against two canonical references: the canonical network's training images and the
   canonical half of RCAN's pairs.

``OUT`` also receives ``examples.png`` (held-out inputs in the top row, their translations below).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from dr_sim.adapt.config import load_adapt_config
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.file_io import encode_png, write_atomically
from dr_sim.gap.cli import measure_gap
from dr_sim.policies.pose_sweep import ScoringSets, score_point, train_cached
from dr_sim.run_cache import RunCache
from studies.harness import Goal, Point, Report, Study, Table, cm_cell, goal_at_most
from studies.harness.study import RUNS
from studies.heldout.textures import write_textures
from studies.perception.study import heldout_sets, load_ablation, points

CANONICAL, FULL = "canonical", "full"
PIPELINES = {
    "canonical": "canonical-only network",
    "full": "full-randomization network",
    "rcan+canonical": "RCAN translation, then the canonical-only network",
}
SUBSETS = ("all", "object_only", "with_distractors")
GOAL_TRAIN_S = 20 * 60.0
EXAMPLES = 8


class GapSettings(StrictModel):
    """The gap meter's settings: images per side (at most), training passes, seed."""

    n: int = Field(default=500, ge=20)
    epochs: int = Field(default=15, ge=1)
    seed: int = Field(default=0, ge=0)


class AdaptStudyConfig(StrictModel):
    """The study (see ``studies/adaptation/config.yaml`` for each key)."""

    perception: str = "../perception/config.yaml"
    pairs: int = Field(default=6000, gt=0)
    translator: dict[str, Any] = Field(default_factory=dict)
    gap: GapSettings = Field(default_factory=GapSettings)

    @field_validator("translator")
    @classmethod
    def _study_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = [key for key in ("data", "out", "method") if key in value]
        if taken:
            raise ValueError(f"the study sets {', '.join(map(repr, taken))} of the translator itself; remove it")
        return value


class AdaptationStudy(Study):
    """One point: RCAN trained and the three pipelines scored, with the gap before and after translation."""

    name = "adaptation"
    config_model = AdaptStudyConfig
    config: AdaptStudyConfig

    def __init__(self, config: AdaptStudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        self.perception, self.perception_folder = load_ablation(self.path(config.perception))
        arms = points(self.perception, [])
        missing = [name for name in (CANONICAL, FULL) if name not in arms]
        if missing:
            raise ConfigError(
                f"{config.perception}: the perception study has no arm {missing[0]!r}; the "
                f"adaptation study needs its arms {CANONICAL!r} and {FULL!r}"
            )
        self.trained = {  # the perception study's training settings of the two arms (so its cache folders)
            name: {
                "generator": {**self.perception.generator, "randomization": arms[name]["randomization"]},
                "images": self.perception.images,
                "training": dict(self.perception.training),
            }
            for name in (CANONICAL, FULL)
        }
        self.networks = RunCache(RUNS / "perception" / "points")

    def scoring_sets(self) -> ScoringSets:
        """The perception study's held-out sets, in its own output folder."""
        return heldout_sets(self.perception, self.perception_folder, RUNS / "perception" / "heldout")

    def translator_config(self, folder: Path) -> dict[str, Any]:
        """RCAN's ``dr-sim adapt train`` config: pairs of the full arm's generator settings."""
        data = {"generator": self.trained[FULL]["generator"], "n": self.config.pairs, "out": str(folder / "pairs")}
        return {**self.config.translator, "method": "rcan", "data": data, "out": str(folder / "rcan")}

    def points(self) -> dict[str, Point]:
        settings = {
            "networks": self.trained,
            "heldout": self.scoring_sets().generators(),
            "translator": self.translator_config(Path("OUT")),
            "gap": self.config.gap.model_dump(),
        }
        return {"adaptation": Point("adaptation", settings, "adaptation")}

    def network(self, name: str) -> Path:
        """The perception study's trained ``name`` arm (trained into its cache when missing)."""
        log = lambda line: self.log(f"{name}: {line}")  # noqa: E731
        return train_cached(self.networks, f"train-{name}", self.trained[name], self.perception.workers, log)[1]

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        import torch  # torch modules below (extra: train)

        from dr_sim.adapt.run import METRICS_FILE, load_generator, train
        from dr_sim.adapt.run_folder import sheet
        from dr_sim.policies.pose_training import PoseData

        write_textures()
        sets = self.scoring_sets()
        heldout = sets.prepare(self.log)
        networks = {name: self.network(name) for name in (CANONICAL, FULL)}
        config = load_adapt_config(self.translator_config(folder), "adaptation study: translator")
        self.log(f"RCAN: {self.config.pairs} pairs, {config.epochs} epochs into {config.out}")
        run = train(config, lambda line: self.log(f"RCAN: {line}"))
        metrics = json.loads((run / METRICS_FILE).read_text())
        generator, _ = load_generator(run)
        scores = {name: score_point(networks[name], heldout) for name in (CANONICAL, FULL)}
        translated = {}
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for where, data in heldout.items():
                translated[where] = translate_set(generator, data, PoseData)
        finally:
            torch.set_num_threads(previous)
        scores["rcan+canonical"] = score_point(networks[CANONICAL], translated)
        images = translated["heldout"].images
        count = min(len(images), self.config.gap.n)
        for i in range(count):
            write_atomically(folder / "translated" / f"{i:05d}.png", encode_png(images[i].permute(1, 2, 0).numpy()))
        shown = [rows[:EXAMPLES].permute(0, 2, 3, 1).numpy() for rows in (heldout["heldout"].images, images)]
        write_atomically(self.out / "examples.png", encode_png(sheet(shown)))
        references = {
            "canonical training images": networks[CANONICAL] / "data",
            "canonical renders of RCAN's pairs": Path(metrics["pairs"]) / "canonical",
        }
        sources = {"before": sets.folder("heldout"), "after": folder / "translated"}
        gap: dict[str, Any] = {}
        for k, (reference, root) in enumerate(references.items()):
            gap[reference] = {}
            for when, source in sources.items():
                self.log(f"gap: held-out {when} translation against {reference}")
                measured = measure_gap(
                    source,
                    root,
                    out=folder / "gap" / f"reference{k}_{when}",
                    n=self.config.gap.n,
                    seed=self.config.gap.seed,
                    epochs=self.config.gap.epochs,
                    size=64,
                )
                gap[reference][when] = {key: measured[key] for key in ("auc", "auc_ci", "accuracy", "n_a")}
        rcan = {key: value for key, value in metrics.items() if key != "history"}
        return {"scores": scores, "rcan": rcan, "gap": gap, "heldout_images": {w: len(d) for w, d in heldout.items()}}

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        result = results.get("adaptation")
        if result is None:
            return Report("Sim-to-sim adaptation", ["Not run yet."])
        sets, rcan = list(result["heldout_images"]), result["rcan"]
        columns = ["pipeline", *(f"{where}: {s.replace('_', ' ')}" for where in sets for s in SUBSETS)]
        scores = Table("Mean error on the table plane, cm (median in parentheses):", columns)
        for name, label in PIPELINES.items():
            cells = [
                f"{cm_cell(result['scores'][name][w]['subsets'][s]['mean_cm'])} "
                f"({cm_cell(result['scores'][name][w]['subsets'][s]['median_cm'])})"
                for w in sets
                for s in SUBSETS
            ]
            scores.rows.append([label, *cells])
        gap = Table(
            "Gap meter, held-out images against canonical images (ROC AUC, 95% interval; 0.5: indistinguishable):",
            ["canonical reference", "before translation", "after translation"],
        )
        for reference, measured in result["gap"].items():
            gap.rows.append(
                [
                    reference,
                    *(
                        f"{measured[w]['auc']:.3f} [{measured[w]['auc_ci'][0]:.3f}, {measured[w]['auc_ci'][1]:.3f}]"
                        for w in ("before", "after")
                    ),
                ]
            )
        intro = (
            f"RCAN trained on {self.config.pairs} paired renders of the `full` arm ({rcan['train_pairs']} to train, "
            f"{rcan['val_pairs']} to validate) in {rcan['train_seconds'] / 60:.1f} min ({rcan['images_per_s']:.0f} "
            f"images/s, {rcan['threads']} thread), rendering {rcan['render_seconds']:.0f} s; validation L1 "
            f"{cm_cell(rcan['val_l1_levels'])} levels (untranslated {cm_cell(rcan['val_l1_untranslated_levels'])})."
        )
        mean = {name: result["scores"][name]["heldout"]["subsets"]["all"]["mean_cm"] for name in PIPELINES}
        goals = [
            Goal(
                f"RCAN + canonical error <= full randomization's {mean['full']:.2f} cm (held-out)",
                mean["rcan+canonical"],
                mean["rcan+canonical"] <= mean["full"],
            ),
            goal_at_most("RCAN trains within 20 min", rcan["train_seconds"] / 60, GOAL_TRAIN_S / 60),
        ]
        for reference, measured in result["gap"].items():
            before, after = (abs(measured[w]["auc"] - 0.5) for w in ("before", "after"))
            goals.append(
                Goal(
                    f"translation brings the AUC toward 0.5 ({reference}; distance from 0.5 before: {before:.3f})",
                    after,
                    after < before,
                )
            )
        paragraphs = [intro, "![held-out inputs (top) and their RCAN translations (bottom)](examples.png)"]
        return Report(
            "Sim-to-sim adaptation (James et al. 2019's shape) on the held-out perception domain",
            paragraphs,
            [scores, gap],
            goals,
            {"result": result, "config": self.config.model_dump()},
        )


def translate_set(generator: Any, data: Any, pose_data: type) -> Any:
    """A held-out ``PoseData`` whose images are RCAN's translations (labels unchanged)."""
    from dr_sim.adapt.training import translate  # needs torch (extra: train)

    return pose_data(translate(generator, data.images), data.xy, data.distractors, data.target_pixels)
