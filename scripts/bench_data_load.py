"""Measure reading a MOSI-sized MMSA pickle vs its `mmib data convert` file.

Writes a synthetic file with the real MOSI MMSA shapes (1284 / 229 / 686 utterances,
text (N, 50, 768), text_bert (N, 3, 50), audio (N, 50, 5), vision (N, 50, 20)) into a
temporary folder, then times: safe unpickling + parsing, conversion, and reading the
converted file (all fields, and only the fields a BERT run needs). Prints seconds and sizes.

    python scripts/bench_data_load.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures_data import write_mmsa  # noqa: E402

from mmib.data.readers import converted, load_corpus  # noqa: E402


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        pkl = write_mmsa(Path(d) / "aligned_50.pkl", sizes=(1284, 229, 686))
        import pickle

        from mmib.data.safe_pickle import safe_load

        t_raw, _ = timed(lambda: pickle.loads(pkl.read_bytes()))  # the unsafe C unpickler, for reference only
        t_safe, _ = timed(lambda: safe_load(pkl))
        t_pkl, corpus = timed(lambda: load_corpus(pkl, log=False))
        t_conv, out = timed(lambda: converted.write(corpus, Path(d) / "mosi.safetensors"), repeat=1)
        t_all, _ = timed(lambda: load_corpus(out, log=False))
        t_ids, _ = timed(lambda: load_corpus(out, fields={"text_ids", "audio", "visual"}, log=False))
        mib = lambda p: p.stat().st_size / 2**20  # noqa: E731
        print(f"pickle   {mib(pkl):7.1f} MiB  pickle.load (unsafe, reference): {t_raw:.2f} s; "
              f"safe unpickle: {t_safe:.2f} s; safe unpickle + parse + validate: {t_pkl:.2f} s")
        print(f"convert  {mib(out):7.1f} MiB  write: {t_conv:.2f} s")
        print(f"converted, all fields:              {t_all:.2f} s")
        print(f"converted, token ids + audio/visual: {t_ids:.2f} s")


if __name__ == "__main__":
    main()
