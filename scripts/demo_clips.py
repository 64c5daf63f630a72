"""Write a folder of demo clips and their manifest, for trying `mmib extract` (docs/own_data.md).

Each clip is an .mp4 with a real face (scikit-image's astronaut photograph, moving over the
frames) and a sentence spoken by espeak-ng (Debian's `apt-get install espeak-ng`) whose
sentiment is the label; the manifest has no transcripts: `mmib extract` recognises the speech.
`--voiced` writes the older clips instead: a voiced sound whose pitch rises with the label,
with the transcripts in the manifest (no espeak-ng needed). Needs the `extract` and `test`
extras (PyAV, scikit-image).

  python scripts/demo_clips.py demo_clips [--n 20] [--voiced]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media import face_frames, voiced, write_clip  # noqa: E402

TEXT = {1: "what a wonderful happy day", -1: "what a terrible sad night"}
SPOKEN = {1: ["what a wonderful happy day", "I really loved this film", "the actors were great and the story was fun",
              "this is the best meal I have had"],
          -1: ["the ending made me very sad", "I really did not enjoy this film at all",
               "this was a boring and awful movie", "the food was cold and the service was slow"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--voiced", action="store_true", help="voiced sounds and typed transcripts instead of speech")
    args = ap.parse_args(argv)
    if not args.voiced:
        from media import spoken  # noqa: E402

        try:
            spoken("test")
        except RuntimeError as e:
            print(f"demo_clips: {e}; or use --voiced", file=sys.stderr)
            return 1
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(args.n):
        sign = 1 if i % 2 else -1
        label = sign * (0.5 + (i % 5) * 0.5)
        split = "train" if i < 0.6 * args.n else "valid" if i < 0.8 * args.n else "test"
        row = {"id": f"clip{i:03d}", "media": f"clip{i:03d}.mp4", "label": label, "split": split}
        if args.voiced:
            audio, sr = voiced(170 + 40 * sign, 1.5, seed=i), 16000
            row["text"] = TEXT[sign]
        else:
            audio, sr = spoken(SPOKEN[sign][(i // 2) % len(SPOKEN[sign])])
        write_clip(folder / f"clip{i:03d}.mp4", audio=audio, sr=sr,
                   frames=face_frames(int(len(audio) / sr * 25) + 1, size=(180, 240), seed=i))
        rows.append(row)
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.n} clips and {folder / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
