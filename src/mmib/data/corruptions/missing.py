"""A whole modality missing: with probability r an utterance's sequence is replaced by the
emptiest input the model accepts: one all-zero step (features), or [CLS] [SEP] (token ids)."""

import numpy as np

from .registry import CORRUPTIONS, Context, Corruption


def missing(x: np.ndarray, rate: float, rng: np.random.Generator, ctx: Context, modality: str) -> np.ndarray:
    if rng.random() >= rate:
        return x
    if x.dtype.kind in "iu":
        first = ctx.cls_id if ctx.cls_id is not None else (int(x[0]) if len(x) else 0)
        last = ctx.sep_id if ctx.sep_id is not None else (int(x[-1]) if len(x) else 0)
        return np.asarray([first, last], dtype=x.dtype)
    return np.zeros((1, x.shape[1]), dtype=np.float32)


CORRUPTIONS.add("missing", Corruption("missing", "features", missing,
                                      "with probability r the sequence becomes one all-zero step"))
CORRUPTIONS.add("missing_tokens", Corruption("missing", "tokens", missing,
                                             "with probability r the text becomes [CLS] [SEP]"))
