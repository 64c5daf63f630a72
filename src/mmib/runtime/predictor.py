""":class:`OnnxPredictor`: an exported model (``mmib export RUN DIR --onnx``) run by onnxruntime,
with no torch in the process.

It reads the export folder's ``config.json`` (the run's config and data record),
``text_encoder/tokenizer.json`` (with the `tokenizers` library, :class:`mmib.inputs.FileTokenizer`)
and ``model.onnx`` + ``onnx.json`` (:mod:`mmib.hub.onnx`). Inputs go through the same path as
the PyTorch :class:`mmib.engine.Predictor` (:class:`mmib.inputs.ModelInputs`), batches are
padded by the same code (:func:`mmib.data.padding.pad_examples`) in the same order
(:func:`mmib.data.padding.inference_batches`), and :meth:`OnnxPredictor.predict` returns the
same :class:`mmib.data.Predictions`. Only the deterministic path exists in the graph
(``inference = "mean"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import config as config_mod
from ..data.padding import Padded, inference_batches, pad_examples
from ..data.types import Example, Predictions
from ..inputs import FileTokenizer, ModelInputs, ReadsInputs

ONNX_FILE = "model.onnx"
ONNX_INFO = "onnx.json"
ONNX_FORMAT = "mmib-onnx-1"
EXPORT_FORMAT = "mmib-export-1"


def _need_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("the onnxruntime backend needs onnxruntime: pip install 'mmib[onnx]'") from None
    return onnxruntime


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing; {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


@dataclass
class OnnxPredictor(ReadsInputs):
    """An export folder's ``model.onnx`` in an onnxruntime session, with the model's inputs.

    ``predict``, ``inputs``, ``task``, ``label_names``, ``dims``, ``modalities``, ``meta``,
    ``cfg``, ``read``, ``score`` behave as :class:`mmib.engine.Predictor`'s do."""

    folder: Path
    cfg: config_mod.ExperimentConfig
    info: dict[str, Any]
    """The export's config.json."""
    graph: dict[str, Any]
    """The export's onnx.json: inputs, outputs, heads, bottlenecks, opset."""
    session: Any
    _input_names: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self._input_names = frozenset(i.name for i in self.session.get_inputs())

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None,
             providers: list[str] | None = None) -> "OnnxPredictor":
        """``path``: a folder written by ``mmib export RUN DIR --onnx``; ``threads``: onnxruntime's
        intra-op threads (default: its own choice); ``providers``: its execution providers
        (default: CPU)."""
        ort = _need_onnxruntime()
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such export folder (write one with mmib export RUN DIR --onnx)")
        info = _read_json(folder / "config.json", "an mmib export folder has config.json (mmib export RUN DIR --onnx)")
        if info.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{folder / 'config.json'}: format {info.get('format')!r}; expected {EXPORT_FORMAT!r} "
                             "(a folder written by mmib export)")
        graph = _read_json(folder / ONNX_INFO, "export the run again with mmib export RUN DIR --onnx --overwrite")
        if graph.get("format") != ONNX_FORMAT:
            raise ValueError(f"{folder / ONNX_INFO}: format {graph.get('format')!r}; expected {ONNX_FORMAT!r}")
        if not (folder / ONNX_FILE).is_file():
            raise FileNotFoundError(f"{folder / ONNX_FILE}: missing; export the run with mmib export RUN DIR --onnx")
        try:
            cfg = config_mod.from_dict(info["config"])
        except (KeyError, config_mod.ConfigError) as e:
            raise ValueError(f"{folder / 'config.json'}: field 'config' is not an mmib config ({e})") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            session = ort.InferenceSession(str(folder / ONNX_FILE), options,
                                           providers=providers or ["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"{folder / ONNX_FILE}: onnxruntime cannot load it ({first})") from None
        expected = [i["name"] for i in graph.get("inputs", [])]
        got = [i.name for i in session.get_inputs()]
        if sorted(expected) != sorted(got):
            raise ValueError(f"{folder / ONNX_FILE}: inputs {got} do not match {ONNX_INFO}'s {expected}")
        return cls(folder, cfg, info, graph, session)

    # ------------------------------------------------------------------ what the model is

    @property
    def meta(self) -> dict[str, Any]:
        """As a checkpoint's metadata (the selected epoch, its validation metrics, the data record),
        with the run's summary (its test metrics too) and the graph's record (onnx.json)."""
        summary = self.info.get("summary") or {}
        return {"epoch": self.info.get("selected_epoch"), "valid": summary.get("valid", {}),
                "data": self.info["data"], "summary": summary, "onnx": self.graph}

    @property
    def task(self) -> str:
        return self.inputs.task

    @property
    def pad_to(self) -> int | None:
        return self.cfg.data.max_len if self.cfg.data.padding == "fixed" else None

    def tokenizer(self) -> FileTokenizer | None:
        """The run's tokenizer from ``text_encoder/`` (torch-free), or None for a vector text path."""
        return self.inputs.tokenizer()

    def _load_tokenizer(self) -> FileTokenizer | None:
        if "text" not in self.cfg.data.modalities or int(self.info["data"]["dims"].get("text", 0)) > 0:
            return None
        return FileTokenizer(self.folder / "text_encoder")

    @cached_property
    def inputs(self) -> ModelInputs:
        """What this model reads, and every input turned into its examples (:mod:`mmib.inputs`)."""
        return ModelInputs(self.cfg, self.info["data"], str(self.folder), self._load_tokenizer)

    # ------------------------------------------------------------------ prediction

    def pad(self, examples: list[Example]) -> Padded:
        """A padded numpy batch, exactly as :func:`mmib.data.collate` pads it."""
        return pad_examples(examples, self.modalities, self.pad_to)

    def run(self, batch: Padded) -> Predictions:
        """The graph's outputs for one padded batch, in its order."""
        feed: dict[str, np.ndarray] = {}
        for m in self.modalities:
            feed[m] = batch.inputs[m]
            feed[f"{m}_mask"] = batch.masks[m]
        feed = {k: v for k, v in feed.items() if k in self._input_names}  # masks a model never reads are not inputs
        heads, bottlenecks = self.graph["heads"], self.graph["bottlenecks"]
        names = ["prediction", *[f"head_{h}" for h in heads], *[f"kl_{b}" for b in bottlenecks], "fused"]
        outs = dict(zip(names, self.session.run(names, feed)))
        pred = outs["prediction"]
        return Predictions(ids=list(batch.ids), pred=pred, labels=batch.labels,
                           heads={**{h: outs[f"head_{h}"] for h in heads}, "fused": pred},
                           kl={b: outs[f"kl_{b}"] for b in bottlenecks}, fused=outs["fused"])

    def predict(self, batch: Padded | Iterable[Example] | Iterable[dict[str, Any]], *,
                inference: str | None = None) -> Predictions:
        """Outputs for a padded batch, examples or JSON-lines style records (in their order),
        batched as the PyTorch predictor batches them. ``inference``: only ``mean`` (the
        deterministic path is what the graph holds)."""
        if inference not in (None, "mean"):
            raise ValueError(f"inference: the ONNX graph holds the deterministic path only (mean), got {inference!r}; "
                             "use the PyTorch model (mmib.load) for sample or mc")
        if isinstance(batch, Padded):
            return self.run(batch)
        items = list(batch)
        if items and isinstance(items[0], dict):
            items = self.inputs.from_records(items)
        if not items:
            raise ValueError("predict: no utterances given")
        t = self.cfg.train
        chunks = inference_batches(items, t.eval_batch_size, self.pad_to, t.eval_max_padding)
        parts = [self.run(self.pad([items[i] for i in c])) for c in chunks]
        order = np.argsort(np.asarray([i for c in chunks for i in c], dtype=np.int64), kind="stable")
        return _concat(parts, order)

    def score(self, p: Predictions) -> dict[str, float]:
        """Metrics of predictions whose labels are known, as the run scores them."""
        from ..metrics import compute

        e = self.cfg.eval
        return compute(self.task, p.pred, p.labels, self.label_names, convention=e.convention, family=e.metrics,
                       default=self.info["data"].get("metrics", "auto"))


def _concat(parts: list[Predictions], order: np.ndarray) -> Predictions:
    """Batches' predictions (in batch order) -> one Predictions in input order."""
    def cat(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)[order]

    ids = [i for p in parts for i in p.ids]
    return Predictions(ids=[ids[i] for i in order], pred=cat([p.pred for p in parts]),
                       labels=cat([p.labels for p in parts]),
                       heads={k: cat([p.heads[k] for p in parts]) for k in parts[0].heads},
                       kl={k: cat([p.kl[k] for p in parts]) for k in parts[0].kl},
                       fused=cat([p.fused for p in parts]))  # type: ignore[misc]


__all__ = ["OnnxPredictor"]
