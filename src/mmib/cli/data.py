"""``mmib data inspect FILE``, ``mmib data convert IN OUT`` and ``mmib data csd`` (docs/datasets.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..data.inspect import render, report
    from ..data.readers import load_corpus
    from ..data.validate import DataError

    try:
        corpus = load_corpus(args.file, args.format, log=False)
    except DataError as e:
        print(f"file      {args.file}\nproblems  1 (the file cannot be used)\n  - {e}")
        return 1
    rep = report(corpus, max_len=args.max_len)
    print(json.dumps(rep, indent=2) if args.json else render(rep))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ..data.readers import converted, load_corpus

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"mmib data convert: error: {out} exists; use --overwrite to replace it", file=sys.stderr)
        return 2
    if Path(args.input).resolve() == out.resolve():
        print("mmib data convert: error: IN and OUT are the same file", file=sys.stderr)
        return 2
    corpus = load_corpus(args.input, args.format)
    converted.write(corpus, out)
    sizes = " / ".join(f"{s} {n}" for s, n in corpus.sizes.items())
    dims = ", ".join(f"{k} {v or 'ids'}" for k, v in corpus.dims.items())
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): {corpus.reader} format, splits {sizes}; "
          f"fields {dims or 'none (text only)'}" + ("; words" if corpus.word_aligned else ""))
    how = "" if corpus.dataset else " --dataset DATASET"  # a file that describes itself needs no name
    print(f"train on it with: mmib train --data-path {out}{how} ...")
    return 0


def cmd_csd(args: argparse.Namespace) -> int:
    from ..data.readers import converted
    from ..extract.csd import read_csd

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"mmib data csd: error: {out} exists; use --overwrite to replace it", file=sys.stderr)
        return 2
    corpus = read_csd(labels=args.labels, words=args.words, audio=args.audio, visual=args.visual, folds=args.folds,
                      aligned=not args.unaligned, emotions=args.emotions.split(",") if args.emotions else None,
                      allow_links=args.allow_links)
    converted.write(corpus, out)
    sizes = " / ".join(f"{s} {n}" for s, n in corpus.sizes.items())
    dims = ", ".join(f"{k} {v}" for k, v in corpus.dims.items() if not k.endswith("_mask"))
    print(f"wrote {out}: {sizes} segments; {dims}; {corpus.notes[0]}")
    print(f"train on it with: mmib train --data-path {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from .common import LazyChoices

    def all_formats():
        from ..data.readers import formats

        return formats()

    FORMATS = LazyChoices(all_formats)

    p = sub.add_parser("data", help="inspect or convert dataset files")
    dsub = p.add_subparsers(dest="data_command", required=True)

    q = dsub.add_parser("inspect", help="print splits, sizes, dims, label statistics and problems found")
    q.add_argument("file")
    q.add_argument("--format", default="auto", choices=FORMATS, metavar="FORMAT",
                   help="reader: %(choices)s (default: from the structure)")
    q.add_argument("--max-len", type=int, default=50, help="report utterances longer than this (default 50)")
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(func=cmd_inspect)

    q = dsub.add_parser("convert", help="validate, repair and write a safe, fast .safetensors corpus file")
    q.add_argument("input", metavar="IN")
    q.add_argument("out", metavar="OUT")
    q.add_argument("--format", default="auto", choices=FORMATS, metavar="FORMAT",
                   help="reader of IN: %(choices)s (default: from the structure)")
    q.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    q.set_defaults(func=cmd_convert)

    q = dsub.add_parser("csd", help="CMU-MultimodalSDK .csd files (words, COVAREP, FACET, labels) -> a dataset file")
    q.add_argument("--labels", required=True, help="the labels .csd (e.g. CMU_MOSI_Opinion_Labels.csd)")
    q.add_argument("--words", help="the words .csd (needed for the aligned layout)")
    q.add_argument("--audio", help="an acoustic .csd (e.g. CMU_MOSI_COVAREP.csd)")
    q.add_argument("--visual", help="a visual .csd (e.g. CMU_MOSI_Visual_Facet_42.csd, OpenFace)")
    q.add_argument("--folds", default="mosi", help="mosi (the SDK's standard folds, shipped) or a JSON file "
                                                   "{train: [...], valid: [...], test: [...]} of video ids")
    q.add_argument("--unaligned", action="store_true", help="keep each stream's own frames per segment "
                                                            "(default: averaged within each word)")
    q.add_argument("--emotions", help="names of the label columns after the sentiment, comma-separated "
                                      "(MOSEI's All Labels: six emotions)")
    q.add_argument("--allow-links", action="store_true", help="follow external links and virtual datasets into "
                                                           "other HDF5 files (refused by default: trust every file "
                                                           "they name first)")
    q.add_argument("-o", "--out", required=True)
    q.add_argument("--overwrite", action="store_true")
    q.set_defaults(func=cmd_csd)
