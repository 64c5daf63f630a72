"""The larger fuzzing run: >= 10,000 cases per reader (and per property), each group in its
own process so that a crash (a signal such as SIGSEGV) is seen as such and counted.

    python scripts/fuzz.py                 # 10,000 cases per test, random seeds
    python scripts/fuzz.py --examples 500  # a quicker look

It runs ``tests/test_fuzz.py`` with ``MMIB_FUZZ_EXAMPLES`` set, prints one line per test
(cases, correct loads, named errors, crashes) and exits non-zero if anything crashed or a
property failed. Results of a run are kept in ``benchmarks/results/fuzz-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["test_mutated_files_of_every_format", "test_structurally_mutated_files_of_every_reader",
         "test_plain_data_pickles_load_exactly", "test_random_config_values_are_valid_or_a_config_error",
         "test_random_command_lines_exit_0_or_2"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000, help="cases per test and reader (default 10000)")
    ap.add_argument("-k", default="", help="only tests whose name contains this")
    args = ap.parse_args()
    results, failed = {}, False
    for test in [t for t in TESTS if args.k in t]:
        report = Path(tempfile.mkstemp(suffix=".json")[1])
        env = {**os.environ, "MMIB_FUZZ_EXAMPLES": str(args.examples), "MMIB_FUZZ_RANDOM": "1",
               "MMIB_FUZZ_REPORT": str(report), "OMP_NUM_THREADS": "1"}
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            f"tests/test_fuzz.py::{test}"], cwd=ROOT, env=env, capture_output=True, text=True)
        counts = json.loads(report.read_text()) if report.stat().st_size else {}
        crashed = r.returncode < 0
        failed |= r.returncode != 0
        results[test] = {"returncode": r.returncode, "crashed": crashed, "seconds": round(time.time() - t0, 1),
                         "counts": counts, "cases": sum(counts.values())}
        print(f"{test}: {sum(counts.values())} cases in {results[test]['seconds']}s, "
              f"{'CRASHED (signal ' + str(-r.returncode) + ')' if crashed else 'rc ' + str(r.returncode)}; "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
        if r.returncode > 0:
            lines = [x[:400] for x in r.stdout.splitlines() if x.startswith("E ") and "\\x" not in x]
            print("\n".join(lines[:40]) or r.stdout[-2000:], file=sys.stderr)
    out = ROOT / "benchmarks" / "results" / f"fuzz-{time.strftime('%Y%m%d-%H%M')}.json"
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "examples_per_test": args.examples, "results": results}, indent=1))
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
