"""Fuzz every file layout mmib reads, each input in a child process under a memory and a time cap.

    python scripts/fuzz_files.py                       # 10,000 inputs per layout, results JSON
    python scripts/fuzz_files.py --inputs 200 --layouts mmsa,csd
    python scripts/fuzz_files.py --show csd 17         # write input 17 of csd and print its outcome

Layouts: the three pickle readers (mmsa, mult, magbert), converted ``.safetensors``, ``.csd``
(HDF5) and ``mmib extract`` manifests (scripts/fuzz_inputs.py makes the inputs: byte
mutations, bad values, deep nesting, shared references, huge declared sizes, links out of
an HDF5 file). A child process reads a batch of inputs under ``RLIMIT_AS`` (``--mem-gb``,
default 2) and a per-input timer (``--time-s``); it records each input before and after, so
when the child dies the parent knows which input killed it and how (a signal, the memory
cap, the time cap), then starts a new child at the next input.

Outcomes: ``loaded``, ``named error`` (one line naming the file), ``unnamed error`` (an error
whose message does not name the file or spans lines), ``traceback`` (any other exception:
the command line would show a traceback), ``crash`` (the process died of a signal),
``timeout``, ``memory cap`` (a MemoryError under the cap) and ``silently accepted`` (bad
values that loaded with no problem reported). Peak memory per input is the child's peak
resident set while it read that input (reset before each input; it includes the ~240 MB of
NumPy / PyTorch / h5py the child has imported). Exit status 1 if any outcome is a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
FAILURES = ("unnamed error", "traceback", "crash", "timeout", "memory cap", "silently accepted", "generator error")


class _TimeUp(BaseException):
    """Raised by the per-input timer (a BaseException: no ``except Exception`` swallows it)."""


def _peak_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def make_input(layout: str, seed: int, i: int, files: dict[str, Path], folder: Path) -> tuple[Path, str, bool]:
    """Input ``i`` of ``layout`` (deterministic), written to a file in ``folder``."""
    import fuzz_formats as ff
    import fuzz_inputs as fi

    rng = random.Random(f"{seed}:{layout}:{i}")
    suffix = {"converted": ".safetensors", "csd": ".csd"}.get(layout, ".pkl")
    if layout in ("mmsa", "mult", "magbert"):
        data, kind, defect = fi.pickle_input(rng, files[layout])
    elif layout == "converted":
        data, kind, defect = ff.converted_input(rng, files["converted"])
    elif layout == "csd":
        data, kind, defect = ff.csd_input(rng, files["csd"], folder, files["labels"])
    else:
        data, kind, defect, suffix = ff.manifest_input(rng, files["manifest"])
    if layout == "csd" and rng.random() < 0.3:
        suffix = ".labels.csd"  # read as the labels file instead of an audio stream
    path = folder / f"{layout}-{i}{suffix}"
    path.write_bytes(data)
    return path, kind, defect


def read_input(layout: str, path: Path, files: dict[str, Path]) -> tuple[str, int]:
    """Read ``path`` as mmib would (``mmib data inspect`` / ``data csd`` / ``extract``):
    ('loaded', the problems reported) or raises."""
    if layout == "manifest":
        from mmib.extract.manifest import read_manifest

        return "loaded", sorted(b.reason for b in read_manifest(path).bad)
    from mmib.data.inspect import render, report

    if layout == "csd":
        from mmib.extract.csd import read_csd

        kw = {"labels": path} if path.name.endswith(".labels.csd") else {"labels": files["labels"], "audio": path}
        corpus = read_csd(**kw, aligned=False, folds=str(files["folds"]))
    else:
        from mmib.data.readers import load_corpus

        corpus = load_corpus(path, "auto", log=False)
    rep = report(corpus)
    render(rep)
    return "loaded", sorted(rep["problems"])


def classify(e: BaseException, path: Path) -> str:
    from mmib.data.validate import DataError

    if isinstance(e, MemoryError) or "not enough memory" in str(e):
        return "memory cap"
    if isinstance(e, (DataError, FileNotFoundError, OSError, ValueError, KeyError)):
        text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        return "named error" if str(path) in text and "\n" not in text.strip() else "unnamed error"
    return "traceback"


def child(spec: list[list], seed: int, results: Path, workdir: Path, mem_gb: float, time_s: float) -> None:
    """Read the inputs of ``spec`` ([[layout, start, count], ...]) one by one, recording each."""
    cap = int(mem_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import fuzz_inputs as fi

    files = fi.seeds(workdir / "seeds")
    baseline = {lay: read_input(lay, files[lay], files)[1] for lay in fi.LAYOUTS}

    def time_up(*_):
        raise _TimeUp()

    signal.signal(signal.SIGPROF, time_up)
    out = open(results, "a", buffering=1)
    for layout, start, count in spec:
        for i in range(start, start + count):
            out.write(json.dumps({"start": [layout, i]}) + "\n")
            try:
                path, kind, defect = make_input(layout, seed, i, files, workdir)
            except Exception as e:  # noqa: BLE001 - a bug of the generator, not of mmib: counted apart
                out.write(json.dumps({"done": [layout, i], "outcome": "generator error", "kind": "?", "ms": None,
                                      "peak_mib": None, "message": f"{type(e).__name__}: {str(e)[:300]}"}) + "\n")
                continue
            _reset_peak()
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_PROF, time_s)  # CPU seconds: fair on a busy machine
            message = ""
            try:
                outcome, problems = read_input(layout, path, files)
                if defect and problems == baseline[layout]:  # bad values, and not one more problem said
                    outcome, message = "silently accepted", f"problems reported: {problems}"[:300]
            except _TimeUp:
                outcome = "timeout"
            except BaseException as e:  # noqa: BLE001 - classified, never re-raised
                outcome, message = classify(e, path), f"{type(e).__name__}: {str(e)[:300]}"
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            rec = {"done": [layout, i], "outcome": outcome, "kind": kind, "ms": round(1000 * (time.perf_counter() - t0), 1),
                   "peak_mib": round(_peak_kib() / 1024, 1)}
            if outcome in FAILURES:
                rec["message"] = message
            out.write(json.dumps(rec) + "\n")
            path.unlink(missing_ok=True)


def run(layouts: list[str], inputs: int, *, seed: int = 0, batch: int = 1000, mem_gb: float = 2.0,
        time_s: float = 10.0, start: int = 0, echo=print, on_batch=None) -> dict:
    """Fuzz ``inputs`` inputs per layout; returns the summary (see the module doc)."""
    work = Path(tempfile.mkdtemp(prefix="mmib-fuzz-files-"))
    results = work / "results.jsonl"
    # round robin, one batch of each layout in turn: a run cut short has every layout at a similar count
    todo = [[lay, b, min(batch, start + inputs - b)] for b in range(start, start + inputs, batch) for lay in layouts]
    dead: list[dict] = []
    t0 = time.time()
    while todo:
        spec, left = [], batch
        while todo and left:
            lay, s, n = todo[0]
            take = min(n, left)
            spec.append([lay, s, take])
            left -= take
            todo[0] = [lay, s + take, n - take]
            if not todo[0][2]:
                todo.pop(0)
        cmd = [sys.executable, __file__, "--child", json.dumps(spec), "--seed", str(seed), "--results", str(results),
               "--workdir", str(work), "--mem-gb", str(mem_gb), "--time-s", str(time_s)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        last_size, last_change = -1, time.time()
        while proc.poll() is None:
            time.sleep(0.2)
            size = results.stat().st_size if results.exists() else 0
            if size != last_size:
                last_size, last_change = size, time.time()
            elif time.time() - last_change > time_s + 300:  # stuck where the CPU timer cannot reach (blocked)
                proc.kill()
                proc.wait()
                dead.append({"how": "timeout"})
        err = proc.stderr.read() if proc.stderr else ""
        recs = [json.loads(x) for x in results.read_text().splitlines()] if results.exists() else []
        started = [r["start"] for r in recs if "start" in r]
        done = {tuple(r["done"]) for r in recs if "done" in r}
        open_ = [s for s in started if tuple(s) not in done]
        if proc.returncode != 0 or open_:
            if not open_:
                raise RuntimeError(f"fuzz child failed before any input (rc {proc.returncode}): {err[-2000:]}")
            lay, i = open_[-1]  # the input the child was reading when it died
            killed = bool(dead) and dead[-1].get("how") == "timeout" and proc.returncode == -9
            how = "timeout" if killed else ("memory cap" if "MemoryError" in err else
                                            "crash" if proc.returncode < 0 else "traceback")
            with open(results, "a") as f:
                f.write(json.dumps({"done": [lay, i], "outcome": how, "kind": "?", "ms": None, "peak_mib": None,
                                    "message": f"child rc {proc.returncode}: {err[-300:]}"}) + "\n")
            done.add((lay, i))
            todo = _remaining(spec, done) + todo  # go on after the input that killed the child
        echo(f"  {sum(1 for r in recs if 'done' in r)} inputs done, {time.time() - t0:.0f}s")
        if on_batch is not None:
            on_batch(summarize(results, layouts, inputs, time.time() - t0, mem_gb, time_s, seed))
    return summarize(results, layouts, inputs, time.time() - t0, mem_gb, time_s, seed)


def _remaining(spec: list[list], done: set[tuple[str, int]]) -> list[list]:
    """The inputs of ``spec`` not yet read (a child reads them in order)."""
    out = []
    for lay, s, n in spec:
        finished = [i for i in range(s, s + n) if (lay, i) in done]
        nxt = max(finished) + 1 if finished else s
        if nxt < s + n:
            out.append([lay, nxt, s + n - nxt])
    return out


def summarize(results: Path, layouts: list[str], inputs: int, seconds: float, mem_gb: float, time_s: float,
              seed: int) -> dict:
    last: dict[tuple[str, int], dict] = {}  # one record per input (parts of a run may overlap)
    for x in results.read_text().splitlines():
        if '"done"' in x:
            r = json.loads(x)
            last[(r["done"][0], r["done"][1])] = r
    recs = list(last.values())
    recs_all = len(recs)
    out: dict = {"inputs_done": recs_all, "machine": {"platform": platform.platform(), "python": platform.python_version(),
                             "cpus": os.cpu_count(), "processor": platform.processor()},
                 "inputs_per_layout": inputs, "seed": seed, "memory_cap_gb": mem_gb, "time_cap_s": time_s,
                 "seconds": round(seconds, 1), "layouts": {}}
    for lay in layouts:
        mine = [r for r in recs if r["done"][0] == lay]
        peaks = sorted(r["peak_mib"] for r in mine if r["peak_mib"] is not None)
        ms = sorted(r["ms"] for r in mine if r["ms"] is not None)
        counts: dict[str, int] = {}
        kinds: dict[str, dict[str, int]] = {}
        for r in mine:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            kinds.setdefault(r["kind"], {}).setdefault(r["outcome"], 0)
            kinds[r["kind"]][r["outcome"]] += 1
        out["layouts"][lay] = {
            "inputs": len(mine), "outcomes": counts, "failures": sum(counts.get(f, 0) for f in FAILURES),
            "peak_mib_per_input": {"median": peaks[len(peaks) // 2] if peaks else None,
                                   "max": peaks[-1] if peaks else None},
            "ms_per_input": {"median": ms[len(ms) // 2] if ms else None, "max": ms[-1] if ms else None},
            "by_mutation": kinds,
            "failure_examples": [r for r in mine if r["outcome"] in FAILURES][:10]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=10_000, help="inputs per layout (default 10000)")
    ap.add_argument("--layouts", default="mmsa,mult,magbert,converted,csd,manifest")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first input index (default 0)")
    ap.add_argument("--batch", type=int, default=1000, help="inputs per child process (default 1000)")
    ap.add_argument("--mem-gb", type=float, default=2.0, help="RLIMIT_AS of the child (default 2 GB)")
    ap.add_argument("--time-s", type=float, default=10.0, help="time cap per input (default 10 s of CPU)")
    ap.add_argument("--out", help="results JSON (default benchmarks/results/fuzz-files-<date>.json)")
    ap.add_argument("--show", nargs=2, metavar=("LAYOUT", "I"), help="write one input and print its outcome")
    ap.add_argument("--summarize", nargs="+", metavar="RESULTS_JSONL",
                    help="write the summary of earlier runs' per-input records (kept as results.jsonl in their "
                         "work folders) instead of running")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--results", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child), args.seed, Path(args.results), Path(args.workdir), args.mem_gb, args.time_s)
        return 0
    if args.show:
        import fuzz_inputs as fi

        work = Path(tempfile.mkdtemp(prefix="mmib-fuzz-show-"))
        files = fi.seeds(work / "seeds")
        path, kind, defect = make_input(args.show[0], args.seed, int(args.show[1]), files, work)
        print(f"{path} ({kind}{', bad values' if defect else ''})")
        try:
            print(read_input(args.show[0], path, files))
        except Exception as e:  # noqa: BLE001 - shown as the command line would
            print(f"{classify(e, path)}: {type(e).__name__}: {e}")
        return 0
    layouts = args.layouts.split(",")
    if args.summarize:  # runs cut in parts (e.g. resumed with --start) summarized as one
        merged = Path(tempfile.mkdtemp(prefix="mmib-fuzz-merge-")) / "results.jsonl"
        merged.write_text("".join(Path(p).read_text() for p in args.summarize))
        summary = summarize(merged, layouts, args.inputs, 0.0, args.mem_gb, args.time_s, args.seed)
        summary["parts"] = args.summarize
        out = Path(args.out or ROOT / "benchmarks" / "results" / f"fuzz-files-{time.strftime('%Y%m%d-%H%M')}.json")
        out.write_text(json.dumps(summary, indent=1))
        print(f"wrote {out}: " + ", ".join(f"{lay} {s['inputs']} inputs, {s['failures']} failures"
                                           for lay, s in summary["layouts"].items()))
        return 1 if any(s["failures"] for s in summary["layouts"].values()) else 0
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"fuzz-files-{time.strftime('%Y%m%d-%H%M')}.json")

    def save(summary: dict) -> None:  # after every batch: a run cut short still leaves its figures
        out.write_text(json.dumps(summary, indent=1))

    summary = run(layouts, args.inputs, seed=args.seed, batch=args.batch, mem_gb=args.mem_gb, time_s=args.time_s,
                  start=args.start, on_batch=save)
    for lay, s in summary["layouts"].items():
        print(f"{lay}: {s['inputs']} inputs, {s['outcomes']}, peak {s['peak_mib_per_input']['max']} MiB, "
              f"median {s['ms_per_input']['median']} ms per input")
    save(summary)
    print(f"wrote {out} in {summary['seconds']:.0f}s")
    return 1 if any(s["failures"] for s in summary["layouts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
