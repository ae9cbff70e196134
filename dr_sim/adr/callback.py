"""The main-process side of ADR: a stable-baselines3 callback that runs the controller.

After every env step it reads the finished episodes' ``info["adr"]`` results (``dr_sim.adr.env``) from all
workers (``DummyVecEnv`` or ``SubprocVecEnv``), feeds them to the ``AdrController``, and when a bound moved
sends the new ranges to every worker with ``env_method("set_adr_ranges", bounds)``.

TensorBoard (each dump): ``adr/<dimension>/low``, ``adr/<dimension>/high`` (the dimension's unit) and
``adr/entropy`` (nats per dimension). Files, when given a run folder: ``checkpoints/adr_<steps>_steps.json``
with every model checkpoint (the same call count as SB3's ``CheckpointCallback``), ``checkpoints/adr_final.json``
at the end, and ``adr_history.json``: the bounds and entropy at the start and after every move
(``[{"steps", "bounds", "entropy"}]``), which ``dr_sim.adr.plot`` draws.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from dr_sim.adr.controller import KEEP, AdrController
from dr_sim.adr.env import ADR_INFO

HISTORY_FILE = "adr_history.json"
CHECKPOINT_PATTERN = "adr_{}_steps.json"  # in the run's checkpoints folder, beside model_<steps>_steps.zip
FINAL_STATE = "adr_final.json"


class AdrCallback(BaseCallback):
    """Run ``controller`` on the training env's results.

    Args:
        controller: the ADR state (fresh, or loaded from a checkpoint to resume).
        checkpoints: the folder for ``adr_<steps>_steps.json`` files, or ``None`` for no files.
        save_every: callback calls (vector steps) between saved states (0: only the final one).
        history: the history so far (a resumed run's ``adr_history.json``), or ``None``.
    """

    def __init__(
        self,
        controller: AdrController,
        checkpoints: Path | None = None,
        save_every: int = 0,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.checkpoints = checkpoints
        self.save_every = save_every
        self.history: list[dict[str, Any]] = list(history or [])

    def _on_training_start(self) -> None:
        self._broadcast()

    def _on_step(self) -> bool:
        moved = False
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            result = info.get(ADR_INFO) if done else None
            if result and "success" in result:
                decision = self.controller.record(
                    result["dimension"], result["bound"], result["value"], float(result["success"])
                )
                moved |= decision is not None and decision.change != KEEP
        if moved:
            self._broadcast()
        self._log()
        if self.checkpoints is not None and self.save_every and self.n_calls % self.save_every == 0:
            self.controller.save(self.checkpoints / CHECKPOINT_PATTERN.format(self.num_timesteps))
            self._write_history(self.checkpoints.parent)
        return True

    def _on_training_end(self) -> None:
        self._log()
        if self.checkpoints is not None:
            self.controller.save(self.checkpoints / FINAL_STATE)
            self._write_history(self.checkpoints.parent)

    def _broadcast(self) -> None:
        """Send the bounds to every worker and add them to the history."""
        bounds = self.controller.ranges.as_dict()
        self.training_env.env_method("set_adr_ranges", bounds)
        self.history.append({"steps": int(self.num_timesteps), "bounds": bounds, "entropy": self.controller.entropy()})

    def _log(self) -> None:
        for name, (low, high) in self.controller.ranges.bounds.items():
            self.logger.record(f"adr/{name}/low", low)
            self.logger.record(f"adr/{name}/high", high)
        self.logger.record("adr/entropy", self.controller.entropy())

    def _write_history(self, run: Path) -> None:
        (run / HISTORY_FILE).write_text(json.dumps(self.history, indent=1) + "\n")


def read_history(run: str | Path) -> list[dict[str, Any]]:
    """A run's ``adr_history.json`` (empty when it has none)."""
    path = Path(run) / HISTORY_FILE
    return json.loads(path.read_text()) if path.is_file() else []
