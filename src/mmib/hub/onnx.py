"""``mmib export RUN DIR --onnx``: the model's deterministic prediction path as ``model.onnx``.

The graph holds the whole model: the text encoder (token ids in), the unimodal networks,
the bottlenecks and the fusion, evaluated as ``model.inference = "mean"`` does (every code
is its posterior mean, nothing is drawn). Inputs, per modality ``m`` of ``data.modalities``:

    m           (batch, time_m) int64 token ids (a pretrained text encoder), or
                (batch, time_m, D_m) float32 features
    m_mask      (batch, time_m) bool, True on valid steps (as :func:`mmib.data.collate` builds it);
                absent when the model never reads it (``model.pooling = "last"`` reads no mask)

Outputs: ``prediction`` (batch, K); ``head_<m>`` (batch, K) for each unimodal decoder;
``kl_<name>`` (batch,) the KL of each bottleneck per utterance (the mean over its latent
dims, as :class:`mmib.engine.Predictions` reports it); ``fused`` (batch, d). Batch and time
axes are dynamic. ``onnx.json`` next to the graph records the inputs (names, dtypes, axes),
the outputs, the opset and the measured agreement with PyTorch.

The graph is traced with PyTorch's TorchScript exporter (``torch.onnx.export(...,
dynamo=False)``): it needs no package beyond ``onnx``, exports a tiny model in about a
second, and a batch with padding as its example makes every branch the trace records the
one that holds for any padded batch. The dynamo exporter (torch's default) needs
``onnxscript`` and took 15 times longer on the same model for the same agreement (docs/onnx.md).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.predictor import ONNX_FILE, ONNX_FORMAT, ONNX_INFO

OPSET = 17
TOLERANCE = 1e-4
"""Largest |PyTorch - onnxruntime| an export accepts on its check batches."""


def _need_onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise RuntimeError("mmib export --onnx needs onnx and onnxruntime: pip install 'mmib[onnx]'") from None
    return onnx, onnxruntime


def _graph_module(model, modalities: list[str], heads: list[str], bottlenecks: list[str]):
    """The model as a module of positional tensors (input, mask per modality) -> the outputs."""
    import torch

    from ..objectives.kl import gaussian_kl

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            inputs = {m: tensors[2 * i] for i, m in enumerate(modalities)}
            masks = {m: tensors[2 * i + 1] for i, m in enumerate(modalities)}
            out = self.model(inputs, masks, sample=False)
            kls = [gaussian_kl(out.posteriors[b].mu, out.posteriors[b].sigma).mean(1) for b in bottlenecks]
            return (out.prediction, *[out.heads[h] for h in heads], *kls, out.fused)

    return Graph().eval()


def _example_batch(modalities: list[str], dims: dict[str, int], vocab: int, lengths: list[int], seed: int = 0):
    """A padded batch of made-up utterances (lengths differ, so the trace sees padding)."""
    from ..data import collate
    from ..data.types import Example

    rng = np.random.default_rng(seed)
    examples = []
    for i, n in enumerate(lengths):
        inputs = {}
        for m in modalities:
            if dims.get(m, 0) <= 0:  # token ids: [CLS] ... [SEP] from the vocabulary's body
                inputs[m] = rng.integers(min(999, vocab - 1), vocab, size=n).astype(np.int64)
            else:
                inputs[m] = rng.standard_normal((n, dims[m])).astype(np.float32)
        examples.append(Example(f"example{i}", inputs, np.zeros(1, np.float32)))
    return collate(examples, modalities)


def _feeds(batch, modalities: list[str]) -> tuple[list[Any], dict[str, np.ndarray]]:
    tensors = [t for m in modalities for t in (batch.inputs[m], batch.masks[m])]
    feed = {}
    for m in modalities:
        feed[m] = batch.inputs[m].numpy()
        feed[f"{m}_mask"] = batch.masks[m].numpy()
    return tensors, feed


def export_onnx(predictor, out_dir: str | Path, *, opset: int = OPSET) -> dict[str, Any]:
    """Write ``model.onnx`` and ``onnx.json`` for a loaded :class:`mmib.engine.Predictor`
    into ``out_dir``; checks the graph with onnxruntime against PyTorch and returns the record.
    When the export or the check fails, no ``model.onnx`` is left behind."""
    out = Path(out_dir)
    try:
        return _export(predictor, out, opset)
    except BaseException:
        (out / ONNX_FILE).unlink(missing_ok=True)
        raise


def _export(predictor, out: Path, opset: int) -> dict[str, Any]:
    import torch

    onnx, ort = _need_onnx()
    model = predictor.model.eval()
    modalities = predictor.modalities
    dims = predictor.dims
    backbone = getattr(predictor.model.encoders["text"], "backbone", None) if "text" in modalities else None
    vocab = int(getattr(getattr(backbone, "config", None), "vocab_size", 0) or 2000)
    batch = _example_batch(modalities, dims, vocab, [9, 5, 2])
    with torch.no_grad():
        probe = model(batch.inputs, batch.masks, sample=False)
    heads = [h for h in probe.heads if h != "fused"]
    bottlenecks = list(probe.posteriors)
    graph = _graph_module(model, modalities, heads, bottlenecks)
    input_names = [n for m in modalities for n in (m, f"{m}_mask")]
    output_names = ["prediction", *[f"head_{h}" for h in heads], *[f"kl_{b}" for b in bottlenecks], "fused"]
    axes = {n: {0: "batch", 1: f"time_{m}"} for m in modalities for n in (m, f"{m}_mask")}
    axes.update({n: {0: "batch"} for n in output_names})
    tensors, _ = _feeds(batch, modalities)
    path = out / ONNX_FILE
    start = time.perf_counter()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
        torch.onnx.export(graph, tuple(tensors), str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=axes, opset_version=opset, dynamo=False, do_constant_folding=True)
    seconds = time.perf_counter() - start
    onnx.checker.check_model(str(path))
    kept = {i.name for i in onnx.load(str(path), load_external_data=False).graph.input}
    inputs = []
    for m in modalities:
        tokens = dims.get(m, 0) <= 0
        inputs.append({"name": m, "dtype": "int64" if tokens else "float32",
                       "shape": ["batch", f"time_{m}"] + ([] if tokens else [int(dims[m])]),
                       "what": "token ids ([CLS] ... [SEP])" if tokens else f"{m} features, one row per step"})
        inputs.append({"name": f"{m}_mask", "dtype": "bool", "shape": ["batch", f"time_{m}"],
                       "what": f"True on the valid steps of {m}"})
    inputs = [i for i in inputs if i["name"] in kept]  # a model that never reads a mask (pooling = last) has none
    k = int(probe.prediction.shape[1])
    outputs = [{"name": "prediction", "dtype": "float32", "shape": ["batch", k]}]
    outputs += [{"name": f"head_{h}", "dtype": "float32", "shape": ["batch", k]} for h in heads]
    outputs += [{"name": f"kl_{b}", "dtype": "float32", "shape": ["batch"]} for b in bottlenecks]
    outputs += [{"name": "fused", "dtype": "float32", "shape": ["batch", int(probe.fused.shape[1])]}]
    record: dict[str, Any] = {
        "format": ONNX_FORMAT, "file": ONNX_FILE, "opset": opset, "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
        "torch_version": torch.__version__, "onnx_version": onnx.__version__, "inference": "mean",
        "modalities": modalities, "heads": heads, "bottlenecks": bottlenecks,
        "inputs": inputs, "outputs": outputs, "export_seconds": round(seconds, 3),
    }
    record["check"] = check_agreement(graph, path, modalities, dims, vocab, output_names, ort)
    from ..engine.checkpoint import atomic_write_text

    atomic_write_text(out / ONNX_INFO, json.dumps(record, indent=2))
    return record


def check_agreement(graph, path: Path, modalities: list[str], dims: dict[str, int], vocab: int,
                    output_names: list[str], ort) -> dict[str, Any]:
    """Run the graph with onnxruntime on batches other than the traced one (other lengths, a
    single utterance) and compare every output with PyTorch; raise when one differs by more
    than :data:`TOLERANCE`."""
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed, lengths in enumerate(([13, 4, 7, 1], [6])):
        batch = _example_batch(modalities, dims, vocab, lengths, seed=seed + 1)
        tensors, feed = _feeds(batch, modalities)
        with torch.no_grad():
            expected = [t.numpy() for t in graph(*tensors)]
        names = {i.name for i in session.get_inputs()}
        got = session.run(output_names, {k: v for k, v in feed.items() if k in names})
        for name, a, b in zip(output_names, expected, got):
            diff = float(np.max(np.abs(a - b))) if a.size else 0.0
            if not diff <= TOLERANCE:
                raise RuntimeError(f"{path}: output {name!r} of the exported graph differs from PyTorch by {diff:.3g} "
                                   f"(batch of lengths {lengths}; at most {TOLERANCE} expected); the model has an "
                                   "operation the ONNX trace does not follow")
            worst = max(worst, diff)
    return {"max_abs_diff": worst, "batches": [[13, 4, 7, 1], [6]], "tolerance": TOLERANCE}


__all__ = ["ONNX_FILE", "ONNX_FORMAT", "ONNX_INFO", "OPSET", "TOLERANCE", "export_onnx"]
