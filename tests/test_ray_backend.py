"""Backends: a local Ray instance renders the same data set and plays the same episodes as local processes,
and a worker killed mid-run is replaced without losing or duplicating a shard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dr_sim.backends import Backend
from dr_sim.datasets.generate import generate, main
from dr_sim.datasets.shards import content_hash, read_shard, shard_path, write_shard
from dr_sim.errors import ConfigError, DrSimError
from dr_sim.policies.rl_evaluation import AUDIT, audit, evaluate, sweep
from dr_sim.policies.rl_training import train

CONFIG = {"image_size": 32, "shard_size": 3, "seed": 11}
# Images slower to render (128 px, and every object's unoccluded render for its visibility) for the kill
# test, so that the killed worker still has shards in flight: at 32 px a worker could finish all of its
# shards before the kill landed, and nothing was left to retry.
SLOW_CONFIG = {**CONFIG, "image_size": 128, "visibility": "all"}
N = 24
SHARDS = 8


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data set rendered by two local processes."""
    root = tmp_path_factory.mktemp("local")
    summary = generate(CONFIG, root, N, workers=2, progress=False)
    assert summary["rendered"] == SHARDS
    assert summary["retried"] == 0
    return root


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The slow-image data set rendered in this process."""
    root = tmp_path_factory.mktemp("slow")
    generate(SLOW_CONFIG, root, N, workers=1, progress=False)
    return root


def assert_complete_once(root: Path) -> None:
    """Every shard file once, no temporary left, every image once in the manifest, in order."""
    assert sorted(path.name for path in (root / "shards").iterdir()) == [f"shard-{k:06d}.npz" for k in range(SHARDS)]
    indices = [json.loads(line)["index"] for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert indices == list(range(N))


# -- finding and killing a worker process ----------------------------------------------------------------
def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(parents: dict[int, int]) -> list[int]:
    """Processes this test process started, directly or not."""
    found, frontier = [], [os.getpid()]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def kill_a_worker(root: Path, is_worker: Callable[[bytes], bool]) -> tuple[threading.Thread, list[int]]:
    """A thread that SIGKILLs the first new worker process it sees (matched by its command line; a
    worker of an earlier run that is still exiting is left alone). The scheduler hands a worker its
    shard as it starts it, so the kill always catches a shard in flight."""
    killed: list[int] = []
    earlier = {pid for pid in _descendants(_parents()) if is_worker(_command_line(pid))}

    def killer() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline and not (root / "manifest.jsonl").exists():
            for pid in _descendants(_parents()):
                if pid not in earlier and is_worker(_command_line(pid)):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread, killed


# -- data sets --------------------------------------------------------------------------------------------
def test_ray_renders_the_same_data_set_as_local_processes(
    ray_instance: Any, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = generate(CONFIG, tmp_path / "ray", N, workers=2, backend=Backend("ray"), progress=False)
    assert summary["rendered"] == SHARDS
    assert summary["retried"] == 0
    assert content_hash(tmp_path / "ray") == content_hash(reference)
    assert (tmp_path / "ray" / "manifest.jsonl").read_text() == (reference / "manifest.jsonl").read_text()
    assert ray_instance.is_initialized()  # a connection it did not make is left open
    # The hash sees a single pixel.
    shard = read_shard(shard_path(tmp_path / "ray", 5))
    shard.rgb[1, 7, 9, 2] ^= 1
    write_shard(shard_path(tmp_path / "ray", 5), shard)
    assert content_hash(tmp_path / "ray") != content_hash(reference)


@pytest.mark.parametrize("kind", ["ray", "local"])
def test_a_worker_killed_mid_run_is_replaced_and_the_set_completes_identically(
    ray_instance: Any, slow_reference: Path, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / kind

    def is_worker(command: bytes) -> bool:
        if kind == "ray":
            return command.startswith(b"ray::RayHost")  # an actor (an idle Ray worker is ray::IDLE)
        return b"multiprocessing.spawn" in command

    thread, killed = kill_a_worker(root, is_worker)
    summary = generate(SLOW_CONFIG, root, N, workers=2, backend=Backend(kind), progress=False)
    thread.join()
    assert killed, "no worker process was seen"
    assert summary["retried"] >= 1
    assert summary["rendered"] == SHARDS
    assert_complete_once(root)
    assert content_hash(root) == content_hash(slow_reference)


def test_bad_backend_arguments_end_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "generator.yaml"
    config.write_text(json.dumps(CONFIG))
    out = tmp_path / "set"
    assert main([str(config), "--out", str(out), "-n", "2", "--address", "auto"]) == 2
    assert "--address 'auto' needs --backend ray" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ConfigError, match="expected auto or HOST:PORT"):
        Backend("ray", "head-node")
    # A head that does not answer ends the command before it writes anything (a fresh process: this one
    # may be connected to the test's Ray instance, which a library call would use instead).
    command = [sys.executable, "-m", "dr_sim.datasets.generate", str(config), "--out", str(out), "-n", "2"]
    result = subprocess.run(
        [*command, "--backend", "ray", "--address", "127.0.0.1:1"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "dr-sim: error: nothing answers at --address 127.0.0.1:1" in result.stderr
    assert "ray start --head" in result.stderr
    assert not out.exists()


def test_ray_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import sys, dr_sim, dr_sim.backends, dr_sim.datasets.generate, dr_sim.policies.rl_evaluation; "
    code += "print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(DrSimError, match=r"pip install 'dr-sim\[ray\]'"):
        Backend("ray")


# -- evaluation sweeps ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A barely trained SAC policy on short PuckPush episodes: its numbers only have to be reproducible."""
    config = {
        "kind": "rl",
        "env": "dr_sim/PuckPush-v0",
        "randomization": "physics",
        "algo": "sac",
        "n_envs": 1,
        "max_episode_steps": 15,
        "total_timesteps": 40,
        "hyperparams": {"learning_starts": 20, "batch_size": 8, "buffer_size": 100, "policy_kwargs": {"net_arch": [8]}},
        "out": str(tmp_path_factory.mktemp("rl") / "run"),
    }
    return train(config)


def test_evaluate_gives_the_same_numbers_on_every_backend(ray_instance: Any, tiny_run: Path) -> None:
    domains = ["nominal", "heavy"]
    here = evaluate(tiny_run, domains, n=12)
    returns = [row["mean_return"] for row in here["domains"].values()]
    assert returns[0] != returns[1]  # the domains differ, so a mixed-up chunk would show
    assert evaluate(tiny_run, domains, n=12, workers=2) == here
    assert evaluate(tiny_run, domains, n=12, workers=2, backend=Backend("ray")) == here
    # An audit is one sweep over every (parameter, value): each point holds its own domain's episodes.
    audited = audit(tiny_run, n=2, points=2)["parameters"]
    gains = audited["gain_scale"]["points"][1]
    pinned = next(parameter for parameter in AUDIT if parameter.name == "gain_scale").pinned(gains["value"])
    assert {"value": gains["value"], **sweep(tiny_run, [("pinned", pinned)], 2)[0].as_dict()} == gains
