"""Sharing trained models in the Hugging Face Hub layout: ``mmib export RUN DIR`` and
``mmib.load("DIR-or-hub-id")``.

An exported folder holds ``config.json`` (mmib's resolved config and what the model was
trained and scored on), ``model.safetensors`` (the selected epoch's weights, the config
inside, as in a run's ``best.safetensors``), ``text_encoder/`` (the text encoder's tokenizer
and config) and ``README.md``, a model card with YAML metadata written through
``huggingface_hub``'s card utilities. Loading reads data only: no file in the folder is ever
executed (``auto_map`` entries and ``.py`` files are ignored).
"""

from .card import model_card
from .export import EXPORT_FORMAT, export_run
from .resolve import resolve

__all__ = ["EXPORT_FORMAT", "export_run", "model_card", "resolve"]
