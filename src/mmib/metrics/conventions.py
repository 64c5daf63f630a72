"""Sentiment metric conventions: how each codebase computes Acc2 / F1 / MAE / Corr."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Convention:
    """How one codebase computes the binary sentiment metrics and MAE / Corr.

    non0_strict: Non0_* compare p > 0 with y > 0 (else p >= 0 with y >= 0), on y != 0.
    has0_strict: Has0_* compare p > 0 with y > 0 (else >= 0), on all samples.
    mae_corr_nonzero: MAE and Corr on the y != 0 subset only (else on all samples).
    f1_swapped: F1 is called as f1_score(pred, true) (the Multimodal Transformer's bug), so
        the weights come from the predicted classes instead of the true ones.
    """

    name: str
    source: str
    non0_strict: bool
    has0_strict: bool
    mae_corr_nonzero: bool
    f1_swapped: bool


CONVENTIONS: dict[str, Convention] = {
    c.name: c for c in (
        Convention("mib", "MIB reference code (the paper)", non0_strict=False, has0_strict=False,
                   mae_corr_nonzero=True, f1_swapped=False),
        Convention("mmsa", "MMSA toolkit", non0_strict=True, has0_strict=False,
                   mae_corr_nonzero=False, f1_swapped=False),
        # MulT's eval_mosei_senti: exclude_zero=True gives Non0, exclude_zero=False (all
        # samples, still > 0) gives Has0; both pass predictions first to f1_score
        Convention("mult", "Multimodal Transformer code (F1 argument bug reproduced)", non0_strict=True,
                   has0_strict=True, mae_corr_nonzero=False, f1_swapped=True),
    )
}
DEFAULT_CONVENTION = "mib"


def get_convention(name: str) -> Convention:
    if name not in CONVENTIONS:
        raise KeyError(f"unknown metric convention {name!r}; expected one of: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


__all__ = ["CONVENTIONS", "DEFAULT_CONVENTION", "Convention", "get_convention"]
