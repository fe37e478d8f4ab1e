"""Helpers of the input tests: the listed cases (copied from ../shared/cases, see cases/README.md) and a real CLI run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).resolve().parents[2]


def case(name: str) -> str:
    return str(CASES / name)


def cli(*args: str, timeout: int = 600) -> tuple[int, str, str]:
    """``python -m deepmend.cli ARGS`` in a real process: (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "deepmend.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(err: str) -> str:
    """The refusal: exactly one ``error:`` line, no traceback (progress bars and notes aside)."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def centre_of_mass(m) -> tuple[float, float]:
    """(x, y) in the map's CRS of a DiffusionMap's mass."""
    xs, ys = m.window.centers()
    p = m.prob.astype(np.float64)
    return float((p.sum(axis=0) * xs).sum()), float((p.sum(axis=1) * ys).sum())
