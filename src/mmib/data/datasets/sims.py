"""CH-SIMS: Chinese sentiment in [-1, 1], scored with Mult_acc_2/3/5, F1, MAE and Corr (MMSA's
SIMS protocol); its text needs a Chinese BERT (e.g. bert-base-chinese)."""

from .spec import DATASETS, DatasetSpec

DATASETS.add("sims", DatasetSpec("CH-SIMS sentiment (MMSA unaligned_39.pkl; Chinese text)",
                                 sentiment_range=1.0, metrics={"sentiment": "sentiment_sims"},
                                 dims={"audio": 33, "visual": 709}))
