"""The first hour of a new user (issue 34): a CLI that starts at once, progress that shows in a
log, SIGTERM as a clean stop, configs that describe themselves offline, tuning that cannot
game beta, one vocabulary of metric names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("torch", "transformers", "numpy", "sklearn", "matplotlib", "optuna")

_PROBE = """
import contextlib, io, sys
from mmib.cli import main
for argv in {argvs!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    assert out.getvalue().strip(), argv
    print(argv, sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_help_and_version_import_no_heavy_module():
    """mmib --help, mmib train --help, mmib --version and every other subcommand's --help, in a
    fresh interpreter: torch (and numpy, transformers, ...) never imported. The subcommands whose
    help lists a registry's names (extract, data inspect) load it for that help only."""
    commands = ["predict", "evaluate", "repeat", "sweep", "paper", "robustness", "compare", "tune", "study",
                "plot", "export", "data", "model", "config"]
    argvs = [["--help"], ["train", "--help"], ["--version"]] + [[c, "--help"] for c in commands]
    r = subprocess.run([sys.executable, "-c", _PROBE.format(argvs=argvs, heavy=HEAVY)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(argvs) and all(line.endswith(" []") for line in lines), r.stdout
    v = subprocess.run([sys.executable, "-m", "mmib", "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("mmib 0.")
