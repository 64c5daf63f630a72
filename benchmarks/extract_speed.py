"""Extraction speed: clips per second per core for each registered extractor, and the
scaling of `mmib extract` with --workers 1, 2.

Clips are generated here: 5-second .mp4 files (a voiced sound at a known pitch, AAC, and
the astronaut's face moving over 25 fps H.264 video, 240x320). Each extractor runs alone
(the other modality off) over the same clips in one process; then the whole pipeline
(librosa audio + the face extractor when registered) runs with 1 and 2 workers. The
machine goes into the result file (benchmarks/results/extract_speed_<date>.json).

  python benchmarks/extract_speed.py [--clips 6] [--seconds 5] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from media import face_frames, voiced, write_clip  # noqa: E402

from mmib.extract import EXTRACTORS, Clip  # noqa: E402
from mmib.extract.pipeline import extract_manifest  # noqa: E402


def machine() -> dict:
    cpu, flags = platform.processor(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = [f for f in line.split(":", 1)[1].split() if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")]
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "isa": flags, "python": platform.python_version(),
            "load_avg": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mmib-extract-bench-"))
    fps = 25
    rows = []
    t = time.perf_counter()
    for i in range(args.clips):
        write_clip(tmp / f"c{i}.mp4", audio=voiced(120 + 15 * i, args.seconds, seed=i),
                   frames=face_frames(int(args.seconds * fps), seed=i), fps=fps)
        rows.append({"id": f"c{i}", "media": f"c{i}.mp4", "text": "hello there", "label": 0.0,
                     "split": ["train", "valid", "test"][i % 3]})
    print(f"generated {args.clips} clips of {args.seconds:g} s in {time.perf_counter() - t:.1f} s ({tmp})")
    with open(tmp / "clips.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                     "clips": args.clips, "seconds_per_clip": args.seconds, "extractors": {}, "pipeline": {}}
    print(f"\n| extractor | modality | dim | clips/s per core | s per clip | x real time |\n|---|---|---|---|---|---|")
    for name, spec in EXTRACTORS.items():
        if name == "openface" or spec.missing():
            continue  # openface reads CSV files OpenFace wrote; nothing to time here
        clip0 = Clip("warm", tmp / "c0.mp4", tmp / "c0.mp4")
        spec.extract(clip0, spec.settings)  # warm-up (numba JIT, cascades)
        t = time.perf_counter()
        for i in range(args.clips):
            spec.extract(Clip(f"c{i}", tmp / f"c{i}.mp4", tmp / f"c{i}.mp4"), spec.settings)
        el = time.perf_counter() - t
        rate = args.clips / el
        results["extractors"][name] = {"clips_per_s_per_core": rate, "s_per_clip": el / args.clips,
                                       "dim": spec.dim, "modality": spec.modality}
        print(f"| {name} | {spec.modality} | {spec.dim} | {rate:.2f} | {el / args.clips:.2f} | "
              f"{args.seconds * rate:.1f} |")
    visual = "face" if "face" in EXTRACTORS else None
    print(f"\n| pipeline (librosa{' + face' if visual else ''}) | workers | wall s | clips/s | speed-up |\n|---|---|---|---|---|")
    base = None
    for w in args.workers:
        out = tmp / f"w{w}.safetensors"
        t = time.perf_counter()
        extract_manifest(tmp / "clips.csv", out, audio="librosa", visual=visual, workers=w, progress=False)
        el = time.perf_counter() - t
        base = base or el
        results["pipeline"][str(w)] = {"wall_s": el, "clips_per_s": args.clips / el, "speedup": base / el}
        print(f"| | {w} | {el:.1f} | {args.clips / el:.2f} | {base / el:.2f} |")
    m = results["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, ISA {' '.join(m['isa'])}, load {m['load_avg'][0]:.2f} "
          "(worker pools start fresh processes: their start-up is included)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    path = Path(args.out) / f"extract_speed_{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
