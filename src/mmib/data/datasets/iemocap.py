"""IEMOCAP: four binary emotions (neutral, happy, sad, angry), accuracy and weighted F1 per
emotion; GloVe 300-d text, COVAREP 74-d acoustic, FACET 35-d visual (Multimodal Transformer files)."""

from ..readers.common import IEMOCAP_EMOTIONS
from .spec import DATASETS, DatasetSpec

DATASETS.add("iemocap", DatasetSpec(
    "IEMOCAP four emotions (Multimodal Transformer file, GloVe text)",
    sentiment_range=None, emotions=tuple(IEMOCAP_EMOTIONS), fixed_emotions=True, default_labels="emotions",
    metrics={"emotions": "emotion_acc_f1"}, dims={"audio": 74, "visual": 35, "text": 300},
    text_encoder="glove"))
