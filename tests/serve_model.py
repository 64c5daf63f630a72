"""Test helper for the serving tests: a tiny model trained once on a converted corpus whose
extraction record names the real librosa and face extractors, so a new clip is extracted
the way its training data says (the features themselves are random: the model only has to
exist, not to be good)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmib.data.corpus import Corpus, CorpusSplit, Ragged
from mmib.data.readers import converted
from mmib.extract import EXTRACTORS
from mmib.extract.pipeline import Plan

SIZES = {"train": 16, "valid": 8, "test": 8}
WORDS = ["good", "bad", "film", "great", "awful", "plot", "nice", "boring", "fun", "sad"]
TINY = ["model.text_encoder='tiny-config'", "model.d=10", "model.n_heads=2", "model.ib_hidden=16",
        "train.epochs=1", "train.batch_size=8", "train.progress=false", "optim.lr=1e-3", "optim.text_lr=1e-3",
        "data.max_len=40"]


def clip_corpus(*, seed: int = 0, max_frames: int = 40, text_encoder_words: bool = True) -> Corpus:
    """Random librosa (50) and face (41) features with sentiment in [-3, 3]."""
    rng = np.random.default_rng(seed)
    plan = Plan({"audio": "librosa", "visual": "face"}, {}, False, max_frames)
    da, dv = EXTRACTORS.get("librosa").dim, EXTRACTORS.get("face").dim
    splits = {}
    for s, n in SIZES.items():
        y = rng.uniform(-3, 3, n).astype(np.float32)
        words = [list(rng.choice(WORDS, int(rng.integers(2, 6)))) for _ in range(n)]
        ta = [int(rng.integers(5, max_frames)) for _ in range(n)]
        tv = [int(rng.integers(3, max_frames)) for _ in range(n)]
        fields = {"audio": Ragged.from_list([(rng.standard_normal((t, da)) + y[i]).astype(np.float32)
                                             for i, t in enumerate(ta)], (da,), np.float32),
                  "audio_mask": Ragged.from_list([np.ones(t, np.uint8) for t in ta], (), np.uint8),
                  "visual": Ragged.from_list([rng.standard_normal((t, dv)).astype(np.float32) for t in tv],
                                             (dv,), np.float32),
                  "visual_mask": Ragged.from_list([np.ones(t, np.uint8) for t in tv], (), np.uint8)}
        splits[s] = CorpusSplit([f"{s}{i}" for i in range(n)], fields, y, None, [" ".join(w) for w in words], words)
    dataset = {"name": "clipsdemo", "labels": "sentiment", "sentiment_range": 3.0, "emotion_names": []}
    return Corpus(splits, "extract", emotion_names=[], word_aligned=False, source={"file": "generated"},
                  dataset=dataset, extraction=plan.record())


def train_clip_model(folder: Path, *extra: str) -> Path:
    """Train the tiny C-MIB on :func:`clip_corpus`; returns the run directory."""
    from mmib.cli import main

    data = converted.write(clip_corpus(), folder / "clips.safetensors")
    sets = [a for kv in [*TINY, *extra] for a in ("--set", kv)]
    code = main(["train", *sets, "--data-path", str(data), "--modalities", "text,audio,visual",
                 "--out-dir", str(folder), "--name", "served", "--quiet"])
    assert code == 0
    return folder / "served"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``mmib serve`` in a subprocess on a free loopback port; stopped on exit."""

    def __init__(self, model: Path, *args: str, log: Path, omp_threads: str | None = "1") -> None:
        """``omp_threads``: OMP_NUM_THREADS of the server (tests: 1; None: the runtime's default)."""
        self.model, self.args, self.log, self.omp_threads = model, args, log, omp_threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        import os
        import subprocess
        import sys
        import time

        import httpx

        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        if self.omp_threads:
            env["OMP_NUM_THREADS"] = self.omp_threads
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "mmib", "serve", str(self.model), "--host", "127.0.0.1",
                                      "--port", str(self.port), "--log-level", "warning", *self.args],
                                     stdout=self._out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mmib serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"mmib serve did not answer within 300 s: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._out.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


def make_clips(folder: Path) -> dict[str, Path]:
    """A 1-s face video with a voiced sound, the same sound alone (.wav), and a broken .mp4."""
    from media import face_frames, voiced, write_clip

    folder.mkdir(parents=True, exist_ok=True)
    clips = {"video": write_clip(folder / "smile.mp4", audio=voiced(210, 1.0, seed=9),
                                 frames=face_frames(25, size=(120, 160), seed=9)),
             "audio": write_clip(folder / "voice.wav", audio=voiced(210, 1.0, seed=9))}
    (folder / "broken.mp4").write_bytes(b"this is not a video " * 200)
    clips["broken"] = folder / "broken.mp4"
    return clips


@pytest.fixture(scope="session")
def served_run(tmp_path_factory) -> Path:
    """The tiny model, trained once per test session."""
    return train_clip_model(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def server(served_run, tmp_path_factory):
    """The model served with a batch window of 20 ms and batches of at most 8 utterances."""
    with Server(served_run, "--max-wait-ms", "20", "--max-batch", "8",
                log=tmp_path_factory.mktemp("server") / "serve.log") as s:
        yield s
