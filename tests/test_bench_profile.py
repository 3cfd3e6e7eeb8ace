"""`bench/bench_e2e.py --profile` where py-spy is not installed says what to install, before
starting anything, rather than a traceback halfway through the run (and so does the
benchmark where the rest of pyproject's `bench` extra is missing)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from .conftest import ROOT


def python_without_scripts(tmp_path: Path) -> Path:
    """A Python of a virtual environment of its own that imports every package this one
    has, but has none of its scripts (py-spy among them) beside it."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60)
    inner = subprocess.run([env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True, timeout=60).stdout.strip()  # fmt: skip
    outer = sysconfig.get_paths()["purelib"]  # this environment's packages, scn's editable install too
    (Path(inner) / "outer.pth").write_text(f"import site; site.addsitedir({outer!r})\n", encoding="utf-8")
    return env / "bin" / "python"


def test_profiling_without_py_spy_says_what_to_install(tmp_path: Path) -> None:
    python = python_without_scripts(tmp_path)
    has_psutil = subprocess.run([python, "-c", "import psutil"], capture_output=True, timeout=60).returncode == 0
    done = subprocess.run(
        [python, ROOT / "bench" / "bench_e2e.py", "--quick", "--profile", tmp_path / "profile"],
        capture_output=True, text=True, timeout=120, env={"PATH": str(python.parent)},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "pip install -e '.[bench]'" in done.stderr, done.stderr
    if has_psutil:  # pyproject's bench extra is installed here, all but py-spy (as its scripts are not beside)
        assert "--profile samples the servers with py-spy, which is not installed" in done.stderr, done.stderr
        assert "pip install 'py-spy>=0.4,<0.5'" in done.stderr
    else:
        assert "needs pyproject's `bench` extra" in done.stderr, done.stderr
    assert not (tmp_path / "profile").exists(), "nothing started"
