"""A quiet terminal: making every task and asking ``dr-sim --help`` print nothing beyond what was asked
(PyBullet's import banner and its connection options are silenced), and warnings name the user's line."""

from __future__ import annotations

import subprocess
import sys

NOISE = ("pybullet build time", "argv[0]", "argv[")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)


def test_making_every_task_prints_nothing() -> None:
    done = run(
        "import gymnasium as gym, dr_sim\n"
        "for env_id in dr_sim.ENV_IDS:\n"
        "    env = gym.make(env_id, randomization='full')\n"
        "    env.reset(seed=0)\n"
        "    env.close()\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ""
    assert not any(noise in done.stderr for noise in NOISE), done.stderr[:500]


def test_help_and_version_print_only_themselves() -> None:
    for flag in ("--help", "--version"):
        done = run(f"import sys; from dr_sim.cli import main; sys.exit(main([{flag!r}]))")
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.startswith("usage: dr-sim" if flag == "--help" else "dr-sim ")
        assert not any(noise in done.stdout + done.stderr for noise in NOISE)
        assert done.stderr == ""


#: A script that wraps a cube on a plane with no control period (the latency is left out with a warning)
#: in three workers of each kind of vector env; ``{vector}`` builds them from ``make``.
WORKERS_SCRIPT = """
import gymnasium as gym, numpy as np, pybullet as p, pybullet_data
from gymnasium import spaces
from dr_sim import DomainRandomization


class Cube(gym.Env):
    def __init__(self):
        self.client = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        p.loadURDF("cube_small.urdf", [0.0, 0.0, 0.05], physicsClientId=self.client)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        p.stepSimulation(physicsClientId=self.client)
        return np.zeros(1, np.float32), 0.0, False, False, {}


def make():
    return DomainRandomization(Cube(), "physics")


if __name__ == "__main__":
    venv = {vector}
    venv.reset()
    venv.close()
"""


def test_a_warning_is_said_once_across_vector_env_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three ``SubprocVecEnv`` workers (fork server) and three ``AsyncVectorEnv`` workers (fork), each
    building an env that warns: the terminal shows the warning once per run, not once per worker."""
    vectors = {
        "sb3": "__import__('stable_baselines3.common.vec_env').common.vec_env.SubprocVecEnv([make] * 3)",
        "gymnasium": "gym.vector.AsyncVectorEnv([make] * 3, shared_memory=True)",
    }
    for name, vector in vectors.items():
        script = tmp_path / f"workers_{name}.py"
        script.write_text(WORKERS_SCRIPT.replace("{vector}", vector))
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stderr.count("latency_rate needs the control period") == 1, (name, done.stderr[-2000:])
