"""What the OpenAPI page (``/docs``) shows: descriptions and examples of every endpoint."""

from __future__ import annotations

from typing import Any

DESCRIPTION = """A trained mmib model (Multimodal Information Bottleneck) served over HTTP.

* `POST /v1/predict`: utterances as JSON, in the record schema of `mmib predict FILE.jsonl`.
* `POST /v1/predict/clip`: a media file (+ transcript), extracted exactly as the training data was.
* `GET /v1/model`: what is served; `GET /health`: ready or not.

Every error is one JSON object `{"error": message, "field": where, "status": code}`.
When the server was started with `--token`, `/v1/*` needs the header `Authorization: Bearer <token>`.
The web page is at `/`. Details: docs/serving.md in the mmib repository."""

TAGS = [{"name": "predict", "description": "predictions"}, {"name": "model", "description": "the served model"},
        {"name": "service", "description": "liveness and readiness"}]

FORM_FIELDS = {
    "file": "a media file upload (.mp4, .webm, .wav, ...) in the form field 'file'",
    "text": "the transcript (optional when the run's extraction can recognise speech)",
    "words": "word timings 'word:start:end ...' (runs aligned on words)",
}

_ERROR = {"error": "body[0]: 'audio' has shape (3, 5); expected (T >= 1, 50) rows of 50 numbers",
          "field": "body[0].audio", "status": 422}


def _err(desc: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"example": example}}}


_ERRORS = {
    400: _err("not valid JSON", {"error": "body: not valid JSON (Expecting value at line 1 column 1)",
                                 "field": "body", "status": 400}),
    401: _err("token missing or wrong", {"error": "missing or wrong token: send the header 'Authorization: "
                                                  "Bearer <token>'", "field": "Authorization", "status": 401}),
    413: _err("body over --max-body-mb", {"error": "request body larger than the server's limit of 50 MB "
                                                   "(--max-body-mb)", "field": "body", "status": 413}),
    422: _err("an input the model cannot read", _ERROR),
    503: _err("too many utterances waiting", {"error": "server busy (4096 utterances waiting); try again shortly",
                                             "field": None, "status": 503}),
    504: _err("over --timeout", {"error": "the request took longer than the server's limit of 60 s (--timeout)",
                                 "field": None, "status": 504}),
}

HEALTH = {200: _err("ready", {"ready": True, "reason": "ready", "model": "mosi-cmib", "backend": "torch",
                              "uptime_s": 12.5, "batches": {"batches": 3, "utterances": 40, "largest_batch": 32}}),
          503: _err("not ready", {"ready": False, "reason": "busy: 4100 utterances waiting (limit 4096)"})}

MODEL = {200: _err("the served model", {
    "name": "mosi-cmib", "backend": "torch", "variant": "cmib", "fusion": "concat", "text_encoder": "minilm",
    "task": "regression", "labels": ["sentiment"], "range": [-3.0, 3.0], "dataset": "myclips",
    "modalities": ["text", "audio", "visual"], "dims": {"text": 0, "audio": 50, "visual": 41},
    "test_metrics": {"MAE": 0.91, "Corr": 0.62}, "extraction": {"audio": {"extractor": "librosa", "dim": 50}},
    "clips": True, "mmib_version": "0.1.0"}), 401: _ERRORS[401]}

_ANSWER = {"id": "u1", "prediction": 1.27, "heads": {"text": 0.9, "audio": -0.2, "visual": 0.4},
           "kl": {"text": 0.12, "audio": 0.4, "visual": 0.3, "fused": 0.08}}
PREDICT = {200: _err("one answer per utterance, in order", {"predictions": [_ANSWER], "model_seconds": 0.004}),
           **{k: _ERRORS[k] for k in (400, 401, 413, 422, 503, 504)}}
PREDICT_CLIP = {200: _err("the answer for the clip", {"predictions": [
    {**_ANSWER, "id": "clip", "transcript": "what a wonderful day", "transcript_source": "given",
     "extract_seconds": 0.81}], "model_seconds": 0.004}),
    415: _err("not a media file", {"error": "file: expected a media file (.mp4, .wav, ...), got 'notes.txt'",
                                   "field": "file", "status": 415}),
    **{k: _ERRORS[k] for k in (401, 413, 422, 503, 504)}}


def predict_body(description: dict[str, Any]) -> dict[str, Any]:
    """The request body of ``POST /v1/predict`` with an example sized to the served model."""
    dims = description["dims"]
    one: dict[str, Any] = {"id": "u1"}
    if "text" in description["modalities"]:
        one["text"] = "what a wonderful day"
    for m in ("audio", "visual"):
        if m in description["modalities"]:
            one[m] = [[0.0] * int(dims[m])] * 2
    record = {"type": "object", "description": "one utterance (docs/serving.md: the JSON schema)",
              "properties": {"id": {"type": "string"}, "text": {"type": "string"},
                             "words": {"type": "array", "items": {"type": "string"}},
                             "token_ids": {"type": "array", "items": {"type": "integer"}},
                             "text_vectors": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                             "audio": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                             "visual": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                             "audio_mask": {"type": "array", "items": {"type": "integer"}},
                             "visual_mask": {"type": "array", "items": {"type": "integer"}},
                             "label": {}}}
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [record, {"type": "array", "items": record}]},
        "examples": {"one utterance": {"value": one}, "a list": {"value": [one, {**one, "id": "u2"}]}}}}}}


__all__ = ["DESCRIPTION", "FORM_FIELDS", "HEALTH", "MODEL", "PREDICT", "PREDICT_CLIP", "TAGS", "predict_body"]
