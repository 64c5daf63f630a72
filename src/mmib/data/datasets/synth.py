"""``synth``: the built-in synthetic sentiment dataset (generated, no file; docs/synth.md)."""

from ..synth import AUDIO_DIM, VISUAL_DIM, generate
from .spec import DATASETS, DatasetSpec

DATASETS.add("synth", DatasetSpec(
    "MOSI-shaped synthetic sentiment data, generated from data.synth (docs/synth.md)",
    build=lambda cfg, tokenizer, spec: generate(cfg, tokenizer),
    dims={"audio": AUDIO_DIM, "visual": VISUAL_DIM, "text": 300}, reads_file=False))
