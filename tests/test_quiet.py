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
