"""``mmib export RUN DIR``: a trained run or seed group as a Hugging Face Hub-layout folder."""

from __future__ import annotations

import argparse


def cmd_export(args: argparse.Namespace) -> int:
    from ..hub import export_run

    out = export_run(args.run, args.dir, overwrite=args.overwrite, push_to_hub=args.push_to_hub,
                     private=not args.public, onnx=args.onnx)
    extra = ", model.onnx, onnx.json" if args.onnx else ""
    print(f"wrote {out} (config.json, model.safetensors, text_encoder/, README.md{extra}); load it with "
          f"mmib.load({str(out)!r})")
    if args.onnx:
        print(f"without torch: mmib.runtime.OnnxPredictor.load({str(out)!r}) (pip install 'mmib[onnx]')")
    if args.push_to_hub:
        print(f"uploaded to the Hugging Face Hub as {args.push_to_hub}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run or seed group as a Hugging Face Hub-layout folder with a model card")
    p.add_argument("run", help="a finished run directory, or a seed group (the seed with the best validation "
                               "score is exported, the card reports mean +/- std over the seeds)")
    p.add_argument("dir", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (the deterministic prediction path, "
                                                       "for onnxruntime without torch; needs mmib[onnx])")
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="then upload DIR to this Hub repository "
                                                            "(needs network and a token: huggingface-cli login)")
    p.add_argument("--public", action="store_true", help="with --push-to-hub: create the repository public "
                                                         "(default: private)")
    p.set_defaults(func=cmd_export)
