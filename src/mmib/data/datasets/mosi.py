"""CMU-MOSI: sentiment in [-3, 3]; COVAREP 74-d acoustic and FACET 47-d visual features."""

from .spec import DATASETS, DatasetSpec

DATASETS.add("mosi", DatasetSpec("CMU-MOSI sentiment (MMSA, MAG-BERT or Multimodal Transformer file)",
                                 dims={"audio": 74, "visual": 47, "text": 300}))
