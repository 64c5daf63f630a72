"""Latency and throughput of ``mmib serve``: p50 / p95 / p99 and requests/s at 1, 8 and 32
concurrent clients (httpx.AsyncClient, closed loop: each client sends its next request when
the last is answered), for the features endpoint (one utterance per request) and for 5-s
clips, per backend; in the same run the offline batched ``Predictor.predict`` throughput (the
ceiling a server on the same cores can approach).

Without --run a MiniLM C-MIB is trained here for one epoch on random features shaped like
`mmib extract`'s (librosa audio, face visual), so a clip is extracted by the run's recorded
plan exactly as in serving; its accuracy is irrelevant to the timings. The 5-s clip is made
here too (a voiced sound, the astronaut's face moving over 240x320 H.264 at 25 fps). Server
and clients share the machine's cores. The machine and its load go into the result file
(benchmarks/results/serve_latency_<date>.json and .md).

  python benchmarks/serve_latency.py [--run RUN] [--clients 1 8 32] [--clip-clients 1 8 32]
                                     [--backends torch onnxruntime]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from machine import describe  # noqa: E402 - benchmarks/machine.py, beside this script
from serve_model import Server, clip_corpus  # noqa: E402


def machine() -> dict:
    import torch

    return {**describe(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_avg_start": os.getloadavg()}


def train_model(folder: Path) -> Path:
    """MiniLM C-MIB (concat fusion, the demo config), one epoch on a random clip-shaped corpus."""
    from mmib.cli import main
    from mmib.data.readers import converted

    data = converted.write(clip_corpus(max_frames=50), folder / "clips.safetensors")
    code = main(["train", "-c", str(ROOT / "configs" / "demo.toml"), "--data-path", str(data),
                 "--modalities", "text,audio,visual", "--set", "data.dataset='auto'", "--set", "train.epochs=1", "--set", "train.progress=false",
                 "--out-dir", str(folder), "--name", "minilm-cmib", "--quiet"])
    if code != 0:
        raise SystemExit("training the benchmark model failed")
    return folder / "minilm-cmib"


def records(dims: dict[str, int], n: int, seed: int = 0) -> list[dict]:
    """Utterances like a MOSI clip's: 6-25 words, 20-50 audio and visual frames."""
    rng = np.random.default_rng(seed)
    words = "the film was really good but the plot felt slow and the ending rather sad".split()
    return [{"id": f"u{i}", "text": " ".join(rng.choice(words, int(rng.integers(6, 26)))),
             "audio": np.round(rng.standard_normal((int(rng.integers(20, 51)), dims["audio"])), 4).tolist(),
             "visual": np.round(rng.standard_normal((int(rng.integers(20, 51)), dims["visual"])), 4).tolist()}
            for i in range(n)]


def offline_ceiling(run: Path, recs: list[dict], batch: int, seconds: float = 6.0) -> dict:
    """Utterances/s of Predictor.predict on examples already converted, in batches of ``batch``
    (the server's --max-batch) and all at once."""
    import mmib

    model = mmib.load(run)
    examples = model.inputs.from_records(recs)
    model.predict(examples[:batch])  # warm-up
    out = {}
    for name, size in (("batches_of_max_batch", batch), ("one_call", len(examples))):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for i in range(0, len(examples), size):
                model.predict(examples[i:i + size])
            n += len(examples)
        out[name] = {"batch": size, "utterances_per_s": n / (time.perf_counter() - t0)}
    return out


async def load(url: str, path: str, make: list, clients: int, total: int, budget_s: float,
               pid: int | None = None) -> dict:
    """``clients`` concurrent closed-loop clients sending ``total`` requests (or until the
    time budget ends); latencies in ms, requests/s, the status codes seen; with the server's
    ``pid``, the CPU its process and its model process spent per request."""
    import httpx

    lat, codes, sent = [], {}, 0

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < total and time.perf_counter() < deadline:
            req = make[sent % len(make)]
            sent += 1
            t = time.perf_counter()
            r = await http.post(path, **req)
            lat.append((time.perf_counter() - t) * 1000)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1

    # One AsyncClient (one keep-alive connection) per simulated client, as separate users would
    # have: a single shared pool checks every idle connection on each request (httpcore's
    # has_expired), CPU the load generator would take from the server on the same cores.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [httpx.AsyncClient(base_url=url, timeout=600, limits=limits) for _ in range(clients)]
    try:
        for http in https:  # open each connection and warm the path
            await http.post(path, **make[0])
        deadline = time.perf_counter() + budget_s
        t0, cpu0, srv0 = time.perf_counter(), time.process_time(), process_cpu(pid) if pid else {}
        await asyncio.gather(*(client(k, http) for k, http in enumerate(https)))
        wall, cpu, srv1 = time.perf_counter() - t0, time.process_time() - cpu0, process_cpu(pid) if pid else {}
    finally:
        for http in https:
            await http.aclose()
    a = np.array(lat)
    return {"clients": clients, "requests": len(lat), "wall_s": wall, "requests_per_s": len(lat) / wall,
            "client_cpu_ms_per_request": 1000 * cpu / max(len(lat), 1),
            **({"server_cpu_ms_per_request": 1000 * (srv1["server"] - srv0["server"]) / max(len(lat), 1),
                "model_process_cpu_ms_per_request": 1000 * (srv1["children"] - srv0["children"]) / max(len(lat), 1)}
               if srv0 and srv1 else {}),
            "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "status": codes}


def process_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the server process and of its child processes (the model process;
    Linux /proc; empty elsewhere)."""
    def cpu(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        kids = [int(k) for t in Path(f"/proc/{pid}/task").iterdir() for k in (t / "children").read_text().split()]
        return {"server": cpu(pid), "children": sum(cpu(k) for k in kids)}
    except (OSError, ValueError, IndexError):
        return {}


def make_clip(folder: Path, seconds: float) -> Path:
    from media import face_frames, voiced, write_clip

    fps = 25
    return write_clip(folder / "five.mp4", audio=voiced(190, seconds, seed=3),
                      frames=face_frames(int(seconds * fps), size=(240, 320), seed=3), fps=fps)


def table(rows: list[dict], ceiling: float | None) -> str:
    lines = ["| endpoint | clients | requests | p50 ms | p95 ms | p99 ms | req/s | of ceiling | CPU ms/req: client, "
             "server, model process |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        share = f"{100 * r['requests_per_s'] / ceiling:.0f}%" if ceiling and r["endpoint"] == "features" else ""
        lines.append(f"| {r['endpoint']} | {r['clients']} | {r['requests']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['requests_per_s']:.2f} | {share} | {r['client_cpu_ms_per_request']:.2f}, "
                     f"{r.get('server_cpu_ms_per_request', float('nan')):.2f}, "
                     f"{r.get('model_process_cpu_ms_per_request', float('nan')):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a trained run or export (default: train a MiniLM C-MIB here)")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--clip-clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=5000, help="features requests per level (at most; the "
                                                               "time budget --seconds usually ends a level first)")
    ap.add_argument("--clip-requests", type=int, default=3, help="clip requests per client at 1 client; "
                                                                 "one per client above")
    ap.add_argument("--seconds", type=float, default=20.0, help="time budget of one features level")
    ap.add_argument("--clip-seconds", type=float, default=5.0, help="length of the test clip")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=20.0)
    ap.add_argument("--in-process", action="store_true", help="serve with --in-process (the model in the server's "
                                                              "process) to compare")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mmib-serve-bench-"))
    info = machine()
    t = time.perf_counter()
    run = Path(args.run) if args.run else train_model(tmp)
    trained_s = time.perf_counter() - t
    import mmib

    dims = mmib.load(run).inputs.dims
    recs = records(dims, 64)
    print(f"model {run} ({'given' if args.run else f'trained here in {trained_s:.0f} s'}); offline ceiling ...",
          flush=True)
    ceiling = offline_ceiling(run, recs, args.max_batch)
    ceilings = [{"at": "start", **ceiling}]
    print(f"offline Predictor.predict: {max(c['utterances_per_s'] for c in ceiling.values()):.1f} utterances/s "
          f"({ceiling})", flush=True)
    clip = make_clip(tmp, args.clip_seconds)
    features = [{"content": json.dumps(r).encode(), "headers": {"content-type": "application/json"}} for r in recs]
    clip_bytes = clip.read_bytes()
    clip_req = [{"files": {"file": ("five.mp4", clip_bytes, "video/mp4")}, "data": {"text": "the film was good"}}]
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
                     "model": {"run": str(run), "text_encoder": "minilm", "variant": "cmib", "fusion": "concat",
                               "dims": dims},
                     "settings": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms,
                                  "model": "the server's process" if args.in_process else "a process of its own",
                                  "clip_seconds": args.clip_seconds, "clip": "240x320 H.264 25 fps + AAC voice"},
                     "offline_ceiling": ceiling, "offline_ceilings": ceilings, "backends": {}}
    for backend in args.backends:
        log = tmp / f"serve-{backend}.log"
        served = run
        if backend == "onnxruntime":  # an export folder with model.onnx (mmib export RUN DIR --onnx)
            from mmib.cli import main as mmib_main

            served = tmp / "export-onnx"
            if mmib_main(["export", str(run), str(served), "--onnx", "--overwrite"]) != 0:
                results["backends"][backend] = {"available": False, "why": "mmib export --onnx failed"}
                continue
        try:
            server = Server(served, "--backend", backend, "--max-batch", str(args.max_batch), "--max-wait-ms",
                            str(args.max_wait_ms), "--timeout", "600", *(["--in-process"] if args.in_process else []),
                            log=log, omp_threads=None).__enter__()
        except RuntimeError as e:
            why = log.read_text().strip().splitlines()[-1] if log.exists() and log.read_text().strip() else str(e)
            print(f"backend {backend}: not measured ({why})", flush=True)
            results["backends"][backend] = {"available": False, "why": why}
            continue
        rows = []
        try:
            for c in args.clients:
                r = asyncio.run(load(server.url, "/v1/predict", features, c, args.requests, args.seconds,
                                     server.proc.pid))
                rows.append({"endpoint": "features", **r})
                print(f"{backend} features {c:>2} clients: p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} "
                      f"p99 {r['p99_ms']:.1f}, {r['requests_per_s']:.1f} req/s", flush=True)
            again = offline_ceiling(run, recs, args.max_batch)  # side by side with the levels just run
            ceilings.append({"at": f"after the {backend} features levels", **again})
            print(f"offline Predictor.predict again: {max(v['utterances_per_s'] for v in again.values()):.1f} "
                  "utterances/s", flush=True)
            for c in args.clip_clients:
                n = args.clip_requests if c == 1 else c
                r = asyncio.run(load(server.url, "/v1/predict/clip", clip_req, c, n, 3600, server.proc.pid))
                rows.append({"endpoint": "clip", **r})
                print(f"{backend} clip {c:>2} clients: p50 {r['p50_ms']:.0f} ms p95 {r['p95_ms']:.0f}, "
                      f"{r['requests_per_s']:.2f} req/s", flush=True)
            import httpx

            stats = httpx.get(server.url + "/health").json()["batches"]
        finally:
            server.__exit__()
        results["backends"][backend] = {"available": True, "levels": rows, "batches": stats}
    # the ceiling: the best offline rate measured in this run (before and after each backend's levels)
    best = max(c["utterances_per_s"] for m in ceilings for c in m.values() if isinstance(c, dict))
    results["ceiling_utterances_per_s"] = best
    spread = [max(c["utterances_per_s"] for c in m.values() if isinstance(c, dict)) for m in ceilings]
    text = [f"# mmib serve latency ({results['date']})", "",
            f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads), "
            f"load average at start {info['load_avg_start'][0]:.1f}. Model: MiniLM C-MIB + concat "
            f"(audio {dims['audio']}, visual {dims['visual']}); the model in {results['settings']['model']}, "
            f"--max-batch {args.max_batch}, --max-wait-ms {args.max_wait_ms:g}. Offline batched "
            f"Predictor.predict, measured {len(spread)} times (at the start and after each backend's features "
            f"levels): {', '.join(f'{v:.1f}' for v in spread)} utterances/s; the shares below are of the highest, "
            f"{best:.1f}.", ""]
    for backend, r in results["backends"].items():  # one section per backend, in the order measured
        if not r["available"]:
            text += [f"## {backend}: not measured", "", r["why"], ""]
            continue
        text += [f"## {backend}", "", table(r["levels"], best), "",
                 f"Batches formed: {r['batches']['batches']} model calls for {r['batches']['utterances']} "
                 f"utterances (largest {r['batches']['largest_batch']}).", ""]
    results["machine"]["load_avg_end"] = os.getloadavg()
    stem = "serve_latency_" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = "\n".join(text + [f"Load average at the end: {results['machine']['load_avg_end'][0]:.1f}."]) + "\n"
    (out / f"{stem}.md").write_text(md)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    print(md)
    print(f"wrote {out / stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
