"""Trained models without torch: an exported ONNX graph (``mmib export RUN DIR --onnx``) run by
onnxruntime behind the interface of :class:`mmib.engine.Predictor`.

    from mmib.runtime import OnnxPredictor
    model = OnnxPredictor.load("exported/")     # needs mmib[onnx]; torch is never imported
    p = model.predict([{"text": "what a great movie", "audio": [[...]], "visual": [[...]]}])

Nothing in this package imports torch (checked by the import-linter contract in
pyproject.toml and by tests/test_onnx.py in a fresh process).
"""

from .predictor import OnnxPredictor

__all__ = ["OnnxPredictor"]
