"""Serving a trained model over HTTP: ``mmib serve RUN_OR_EXPORT`` (docs/serving.md).

- :mod:`.backends`: what predicts (``torch``: :class:`mmib.engine.Predictor`; others plug in
  by name), each with ``.inputs`` (:class:`mmib.inputs.ModelInputs`) and ``.predict``;
- :mod:`.process`: the model in a child process of its own (the default), so the HTTP side
  never competes with it for the interpreter lock;
- :mod:`.batching`: the short queue that batches concurrent requests;
- :mod:`.app`: the FastAPI app (``/``, ``/health``, ``/v1/model``, ``/v1/predict``,
  ``/v1/predict/clip``, ``/docs``); :mod:`.clips`: uploads -> examples;
- :mod:`.limits`: body size, token, error bodies; :mod:`.answers`: the JSON answers;
- :mod:`.run`: load once and run uvicorn; ``static/``: the web page (no build step, no CDN).

FastAPI, uvicorn and python-multipart come with the ``serve`` extra (``pip install
'mmib[serve]'``); importing this package needs none of them, nor torch.
"""

from .settings import Settings

__all__ = ["Settings"]
