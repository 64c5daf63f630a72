"""``mmib export RUN DIR``: a run (or a seed group) -> a Hugging Face Hub-layout folder.

Layout of ``DIR``::

    config.json         {"library_name": "mmib", "format": "mmib-export-1", "config": the resolved
                        config, "data": dataset, labels, dims, split sizes, "summary": the
                        run's summary, "group": mean/std over seeds (a group export)}
    model.safetensors   the selected epoch's weights, byte for byte the run's best.safetensors
                        (the config and metadata inside; mmib.load reads it like a run)
    text_encoder/       the text encoder's tokenizer and architecture (no weights of their
                        own: model.safetensors holds them)
    README.md           the model card (:mod:`mmib.hub.card`)
    model.onnx          with ``onnx=True`` (``--onnx``): the deterministic prediction path as an
    onnx.json           ONNX graph, and what its inputs and outputs are (:mod:`mmib.hub.onnx`)
    results.json        a group export only: the group's per-seed results

``push_to_hub`` uploads the folder with ``huggingface_hub.HfApi.upload_folder`` (needs
network and a token; never called by the tests).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..engine.checkpoint import atomic_write_text, read_weights
from ..engine.rundir import read_summary
from ..metrics import higher_is_better
from .card import model_card

EXPORT_FORMAT = "mmib-export-1"
_CODE = (".py", ".pyc", ".so")


def _pick_seed(group: Path) -> tuple[Path, dict[str, Any]]:
    """The group's finished seed run with the best validation selection metric, and results.json."""
    f = group / "results.json"
    if not f.exists():
        raise FileNotFoundError(f"{group}: a seed group without results.json: it has not finished")
    res = json.loads(f.read_text())
    runs = [group / f"seed-{s}" for s in res["seeds"]]
    runs = [r for r in runs if (r / "summary.json").exists()]
    if not runs:
        raise FileNotFoundError(f"{group}: no finished seed run (seed-*/summary.json)")
    sel = config_mod.load(runs[0] / "config.toml").train.select_metric
    sign = -1.0 if higher_is_better(sel) else 1.0
    best = min(runs, key=lambda r: (sign * float(read_summary(r)["valid"][sel]), r.name))
    return best, res


def export_run(source: str | Path, out_dir: str | Path, *, overwrite: bool = False,
               push_to_hub: str | None = None, private: bool = True, token: str | None = None,
               onnx: bool = False) -> Path:
    """Write the Hub-layout folder of a finished run or seed group (``source``) to ``out_dir``;
    ``onnx`` adds ``model.onnx`` (:func:`mmib.hub.onnx.export_onnx`); ``push_to_hub`` (a
    repository id) then uploads it. Returns ``out_dir``."""
    if onnx:
        from .onnx import _need_onnx

        _need_onnx()  # before anything is written
    source, out = Path(source), Path(out_dir)
    group = None
    if (source / "summary.json").exists():
        run = source
    elif (source / "group.json").exists():
        run, group = _pick_seed(source)
    else:
        raise FileNotFoundError(f"{source}: not a finished run (summary.json) or seed group (group.json)")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out}: exists and is not empty; pass --overwrite or choose another folder")
        if not (out / "config.json").exists():
            raise FileExistsError(f"{out}: not an mmib export; refusing to overwrite it")
        shutil.rmtree(out)
    ckpt = run / "best.safetensors"
    _, toml, meta = read_weights(ckpt)  # verifies the checksum before anything is copied
    summary = {k: v for k, v in read_summary(run).items() if k != "run"}
    cfg = config_mod.loads(toml)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt, out / "model.safetensors")
    if (run / "text_encoder").is_dir():
        shutil.copytree(run / "text_encoder", out / "text_encoder",
                        ignore=lambda _d, names: [n for n in names if n.endswith(_CODE)])
    try:
        from importlib.metadata import version

        mmib_version = version("mmib")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        mmib_version = "unknown"
    data = {k: v for k, v in meta["data"].items() if k != "path"}  # a local path means nothing elsewhere
    info: dict[str, Any] = {
        "library_name": "mmib", "format": EXPORT_FORMAT, "mmib_version": mmib_version,
        "config": cfg.to_dict(), "data": data, "selected_epoch": meta["epoch"], "summary": summary,
        "source": run.name if group is None else f"{source.name}/{run.name}",
    }
    if group is not None:
        info["group"] = {"seeds": group["seeds"], "test": {k: group["test"][k] for k in ("mean", "std")},
                         "valid": {k: group["valid"][k] for k in ("mean", "std")}}
        atomic_write_text(out / "results.json", json.dumps(group, indent=2))
    atomic_write_text(out / "config.json", json.dumps(info, indent=2))
    name = source.name if group is not None else run.name
    model_card(info, info.get("group"), name=f"mmib {cfg.model.variant}-{cfg.model.fusion} ({name})").save(
        out / "README.md")
    if onnx:
        from ..engine import Experiment, Predictor
        from ..engine.experiment import checkpoint_path
        from .onnx import export_onnx

        # traced eagerly on the CPU in fp32, whatever the run trained with
        exp = Experiment.load(out, build_data=False, overrides=['train.device="cpu"', "train.compile=false"])
        export_onnx(Predictor(exp, checkpoint_path(out)), out)
    if push_to_hub:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(push_to_hub, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=push_to_hub, commit_message="mmib export")
    return out


__all__ = ["EXPORT_FORMAT", "export_run"]
