"""CMU-MOSEI: sentiment in [-3, 3], and six emotions when the file carries them (scored with
weighted accuracy and ROC-AUC per emotion); COVAREP 74-d acoustic, FACET 35-d visual."""

from ..readers.common import MOSEI_EMOTIONS
from .spec import DATASETS, DatasetSpec

DATASETS.add("mosei", DatasetSpec(
    "CMU-MOSEI sentiment, or its six emotions with data.labels = 'emotions'",
    emotions=tuple(MOSEI_EMOTIONS), metrics={"sentiment": "sentiment", "emotions": "emotion_wa_auc"},
    dims={"audio": 74, "visual": 35, "text": 300}))
