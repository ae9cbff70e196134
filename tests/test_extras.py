"""Heavy optional dependencies (``dr_sim.extras``) and the data shipped inside the package (the shifts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dr_sim.config
from dr_sim.config import SHIFTS_DIR, load_config, shift_names, shift_path
from dr_sim.errors import ConfigError, DrSimError, MissingExtraError
from dr_sim.extras import EXTRAS, available, install_line, require

ROOT = Path(__file__).resolve().parents[1]
SHIFTS = ["heavy", "high_gains", "light", "low_gains", "sticky_laggy"]


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_every_heavy_dependency_names_an_extra_that_installs_it() -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, source in EXTRAS.items():
        assert source.extra in extras, module
        assert source.distribution in {_requirement_name(item) for item in extras[source.extra]}, module


def test_require_imports_an_installed_dependency() -> None:
    torch = require("torch", "a test")
    assert torch.__name__ == "torch"
    assert require("matplotlib.figure", "a test").__name__ == "matplotlib.figure"
    assert available("torch")
    assert install_line("stable_baselines3") == "pip install 'dr-sim[train]'"
    assert install_line("ray.util") == "pip install 'dr-sim[ray]'"


def test_a_missing_dependency_ends_in_one_line_naming_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # (an earlier test may have imported it)
    with pytest.raises(MissingExtraError) as caught:
        require("matplotlib.pyplot", "dr-sim preview")
    assert str(caught.value) == "dr-sim preview needs matplotlib: pip install 'dr-sim[train]'"
    assert isinstance(caught.value, DrSimError)
    assert isinstance(caught.value, ImportError)
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(MissingExtraError, match=r"^x needs skimage \(scikit-image\): pip install 'dr-sim\[train\]'$"):
        require("skimage", "x")
    assert not available("skimage")


def test_require_takes_only_the_heavy_dependencies() -> None:
    with pytest.raises(ValueError, match="not a heavy optional dependency"):
        require("numpy", "a test")


def test_the_command_line_says_which_extra_a_command_needs(tmp_path: Path) -> None:
    """``dr-sim train`` of an RL config without stable-baselines3: one line, exit code 2."""
    config = tmp_path / "rl.yaml"
    config.write_text("kind: rl\nalgo: sac\ntotal_timesteps: 10\nout: run\n")
    code = (
        "import sys; sys.modules['stable_baselines3'] = None; from dr_sim.cli import main; "
        f"sys.exit(main(['train', {str(config)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "dr-sim: error: dr-sim train (kind: rl) needs stable_baselines3 (stable-baselines3): "
        "pip install 'dr-sim[train]'"
    )
    assert "Traceback" not in result.stderr


def test_the_shifts_ship_with_the_package_and_are_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shift_names() == SHIFTS
    assert Path(dr_sim.config.__file__).parent / "shifts" == SHIFTS_DIR  # beside the code, not the working folder
    for name in SHIFTS:
        path = shift_path(name)
        assert path.is_file()
        assert path.read_text().startswith("# Held-out dynamics shift")  # the comments travel with them
        config = load_config(path)
        assert config.physics is not None or config.actuation is not None
    with pytest.raises(ConfigError, match="Did you mean 'heavy'"):
        shift_path("heavvy")
    assert not os.listdir(tmp_path)


def test_calibrate_names_its_extra_before_reading_anything(tmp_path: Path) -> None:
    """Without cma, ``dr-sim calibrate`` says so in one line even before it looks at its arguments."""
    code = (
        "import sys; sys.modules['cma'] = None; from dr_sim.cli import main; "
        "sys.exit(main(['calibrate', 'physics', 'no_such_folder', '--out', 'out']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "dr-sim: error: dr-sim calibrate needs cma: pip install 'dr-sim[calibrate]'"
    )
    assert not (tmp_path / "out").exists()
