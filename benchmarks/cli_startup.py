"""CLI start-up: wall and CPU time of `mmib --help`, `mmib train --help` and `mmib --version`,
each in a fresh interpreter (the goal of issue 34: under 0.5 s of CPU each), and whether torch
was imported.

Each command runs ``--repeats`` times, interleaved; the median is reported (CPU = user +
system of the child process). ``--src`` measures another checkout's ``src`` folder too (e.g.
the commit before the CLI imported lazily) in the same interleaved loop. The machine goes
into the result file (benchmarks/results/cli_startup_<date>.json).

  python benchmarks/cli_startup.py [--repeats 5] [--src OTHER_CHECKOUT/src ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from machine import describe  # noqa: E402 - benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [["--help"], ["train", "--help"], ["--version"]]
PROBE = ("import sys, runpy; sys.argv = ['mmib'] + sys.argv[1:]\n"
         "try:\n    runpy.run_module('mmib', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "sys.stderr.write('torch imported: %s\\n' % ('torch' in sys.modules))")


def machine() -> dict:
    return describe()


def one(src: str, argv: list[str]) -> tuple[float, float, bool]:
    """(wall s, CPU s, torch imported) of one fresh interpreter running the command."""
    env = {**os.environ, "PYTHONPATH": src}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if "torch imported" not in r.stderr:
        raise RuntimeError(f"{argv}: {r.stderr[-500:]}")
    return wall, cpu, "torch imported: True" in r.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--src", nargs="*", default=[], help="more source folders to measure (label = the path)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    sources = [str(ROOT / "src")] + args.src
    samples: dict[tuple[str, str], list[tuple[float, float, bool]]] = {}
    for _ in range(args.repeats):
        for src in sources:
            for cmd in COMMANDS:
                samples.setdefault((src, " ".join(cmd)), []).append(one(src, cmd))
    rows = []
    for (src, cmd), xs in samples.items():
        row = {"src": src, "command": f"mmib {cmd}", "wall_s": round(statistics.median(x[0] for x in xs), 3),
               "cpu_s": round(statistics.median(x[1] for x in xs), 3), "torch_imported": any(x[2] for x in xs),
               "repeats": len(xs)}
        rows.append(row)
        print(f"{row['command']:<20} wall {row['wall_s']:.3f} s  CPU {row['cpu_s']:.3f} s  "
              f"torch {'imported' if row['torch_imported'] else 'not imported'}  ({src})")
    started = datetime.now(timezone.utc)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / f"cli_startup_{started:%Y%m%d-%H%M}.json"
    f.write_text(json.dumps({"date": started.isoformat(timespec="seconds"), "machine": machine(),
                             "goal_cpu_s": 0.5, "rows": rows}, indent=2))
    print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
