"""Write a folder of demo clips and their manifest, for trying `mmib extract` (docs/own_data.md).

Each clip is an .mp4 with a real face (scikit-image's astronaut photograph, moving over the
frames) and a voiced sound whose pitch rises with the sentiment label; the transcripts
carry the sentiment too. Needs the `extract` and `test` extras (PyAV, scikit-image).

  python scripts/demo_clips.py demo_clips [--n 20]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media import face_frames, voiced, write_clip  # noqa: E402

TEXT = {1: "what a wonderful happy day", -1: "what a terrible sad night"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(args.n):
        sign = 1 if i % 2 else -1
        label = sign * (0.5 + (i % 5) * 0.5)
        split = "train" if i < 0.6 * args.n else "valid" if i < 0.8 * args.n else "test"
        write_clip(folder / f"clip{i:03d}.mp4", audio=voiced(170 + 40 * sign, 1.5, seed=i),
                   frames=face_frames(38, size=(180, 240), seed=i))
        rows.append({"id": f"clip{i:03d}", "media": f"clip{i:03d}.mp4", "text": TEXT[sign], "label": label,
                     "split": split})
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.n} clips and {folder / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
