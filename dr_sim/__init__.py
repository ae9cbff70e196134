"""dr_sim: domain randomization and adaptation for PyBullet + Gymnasium.

``import dr_sim`` registers every task as ``dr_sim/<Name>-v<N>``. Wrap any PyBullet env with
``dr_sim.DomainRandomization(env, "full")``.
"""

from dr_sim.native_output import quiet_native_stderr

with quiet_native_stderr():
    import pybullet  # noqa: F401  (PyBullet prints its build time when first imported: once, silently, here)

from dr_sim.config import PRESETS, DRConfig, load_config
from dr_sim.errors import ConfigError, DrSimError, SceneError
from dr_sim.registration import ENV_IDS, register_envs
from dr_sim.wrapper import DomainRandomization

register_envs()

__version__ = "0.1.0"
__all__ = [
    "ENV_IDS",
    "PRESETS",
    "ConfigError",
    "DRConfig",
    "DomainRandomization",
    "DrSimError",
    "SceneError",
    "load_config",
]
