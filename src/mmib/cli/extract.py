"""``mmib extract MANIFEST -o DATASET``: raw clips -> a trainable dataset file (docs/own_data.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_extract(args: argparse.Namespace) -> int:
    from ..data.validate import DataError
    from ..extract.pipeline import extract_manifest

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"mmib extract: error: {out} exists; use --overwrite to replace it", file=sys.stderr)
        return 2
    none = lambda v: None if v in (None, "none") else v  # noqa: E731
    try:
        res = extract_manifest(args.manifest, out, audio=none(args.audio), visual=none(args.visual),
                               workers=args.workers, strict=args.strict, max_frames=args.max_frames,
                               align=args.align, labels=args.labels, label_range=args.label_range,
                               emotions=args.emotions.split(",") if args.emotions else None, name=args.name,
                               progress=not args.quiet, asr=none(args.asr), asr_model=args.asr_model,
                               allow_outside=args.allow_outside, face_floor=args.face_floor, min_face=args.min_face)
    except DataError as e:
        print(f"mmib extract: error: {e}", file=sys.stderr)
        return 1
    c = res.corpus
    sizes = " / ".join(f"{s} {n}" for s, n in c.sizes.items())
    dims = ", ".join(f"{m} {c.extraction[m]['dim']} ({c.extraction[m]['extractor']})"
                     for m in ("audio", "visual") if m in c.extraction)
    print(f"wrote {out}: {sizes} utterances; {dims}; "
          f"{'aligned on words' if c.word_aligned else 'unaligned'}; labels {c.dataset['labels']}")
    print(res.visual)
    if res.low_face:
        print(f"clips with a face in fewer than {args.face_floor:.0%} of their frames: {len(res.low_face)} "
              f"({'skipped' if args.min_face else 'kept; --min-face skips them'})")
    print(f"clips extracted {res.extracted}, reused from {out.name}.parts {res.reused}, skipped {len(res.bad)}"
          + (f" (reasons in {res.report})" if res.report else ""))
    t = res.transcripts
    if t:
        asr = c.extraction["asr"]
        line = (f"transcripts: {', '.join(f'{k} {v}' for k, v in t['text_from'].items())}; word timings: "
                f"{', '.join(f'{k} {v}' for k, v in t['timings_from'].items())}")
        if t["aligned_rows"]:
            line += (f"; {t['aligned_rows']} given transcript{'s' * (t['aligned_rows'] != 1)} aligned to the "
                     "recognised words "
                     f"({t['words_matched']} of {t['words_given']} words matched, the rest interpolated)")
        if t["mean_confidence"] is not None:
            line += f"; recogniser {asr['transcriber']} {asr['model_name']}, mean confidence {t['mean_confidence']:.2f}"
        print(line + f"; per row in {res.transcripts_file}")
    print(f"train on it with: mmib train --data-path {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from .common import LazyChoices

    def names(mod: str, *more: str) -> LazyChoices:  # the registries (and torch) load only to check a value
        def read() -> list[str]:
            from ..extract import EXTRACTORS

            return [*more, *(n for n, s in EXTRACTORS.items() if s.modality == mod), "none"]
        return LazyChoices(read)

    def transcribers() -> list[str]:
        from ..extract.transcribe import TRANSCRIBERS

        return TRANSCRIBERS.names()

    p = sub.add_parser("extract", help="extract features from raw clips listed in a manifest into a dataset file")
    p.add_argument("manifest", help="CSV or JSONL: id, media, label, split (+ text, video, start, end, words, "
                                    "openface); docs/own_data.md")
    p.add_argument("-o", "--out", required=True, help="the dataset file to write (.safetensors)")
    p.add_argument("--audio", default="librosa", choices=names("audio"), metavar="NAME",
                   help="audio extractor: %(choices)s (default librosa)")
    p.add_argument("--visual", default="auto", choices=names("visual", "auto"), metavar="NAME",
                   help="visual extractor: %(choices)s; auto (default): landmarks (68-point landmarks, head "
                        "pose, AU proxies; research-only model) for rows with a video, face when dlib-bin / "
                        "face-recognition-models are missing, none when no row has a video")
    p.add_argument("--face-floor", type=float, default=0.2, metavar="F",
                   help="report clips with a face in fewer than this fraction of frames (default 0.2)")
    p.add_argument("--min-face", action="store_true", help="skip the clips below --face-floor instead of keeping them")
    p.add_argument("--asr", default="whisper", choices=LazyChoices(transcribers), metavar="NAME",
                   help="speech recogniser for rows without a transcript (text) or word timings (words): "
                        "whisper (faster-whisper, default) or none (every row needs its text)")
    p.add_argument("--asr-model", metavar="NAME_OR_PATH",
                   help="a faster-whisper model: a local folder, or a hub name when online (default: the "
                        "packaged whisper tiny.en, no network)")
    p.add_argument("--allow-outside", action="store_true",
                   help="let manifest paths leave the manifest's folder")
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--strict", action="store_true", help="stop at the first row or clip that cannot be used")
    p.add_argument("--max-frames", type=int, help="bound every stream to N frames by pooling (default: keep all)")
    p.add_argument("--align", default="auto", choices=["auto", "words", "none"],
                   help="one row per word (needs the words column) or each stream's own frames; "
                        "auto: words when every row has word timings")
    p.add_argument("--labels", default="auto", choices=["auto", "sentiment", "emotions"])
    p.add_argument("--label-range", type=float, default=3.0, help="sentiment scores lie in [-R, R] (default 3)")
    p.add_argument("--emotions", help="comma-separated emotion names (default: every name in the manifest)")
    p.add_argument("--name", help="the dataset's name (default: the manifest's file name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_extract)
