"""Automatic domain randomization (OpenAI et al. 2019, Algorithm 1), one job per module:

- ``config``: the ``adr:`` section (dimensions with config path, nominal, hard limits, step; p_b, m, t_L, t_H);
- ``paths``: where a dimension goes in a randomization config;
- ``ranges``: the current bounds, boundary sampling, the episode's config and the entropy;
- ``controller``: performance buffers per bound, widening and shrinking, state as a plain dict;
- ``env``: the worker-side wrapper that reconfigures each episode's randomization;
- ``callback``: the main-process stable-baselines3 callback (controller, TensorBoard, checkpoints);
- ``plot``: the ranges over training.
"""

from dr_sim.adr.config import AdrConfig, AdrDimension
from dr_sim.adr.controller import AdrController, Decision
from dr_sim.adr.env import AutomaticRandomization
from dr_sim.adr.ranges import Boundary, Ranges, check_randomization

__all__ = [
    "AdrConfig",
    "AdrController",
    "AdrDimension",
    "AutomaticRandomization",
    "Boundary",
    "Decision",
    "Ranges",
    "check_randomization",
]
