"""Every metric on hand-made predictions with answers computed by hand (docs/metrics.md)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mmib import config as config_mod
from mmib import metrics as M

# p: predictions, y: labels; worked out by hand below
P = np.array([1.2, -0.3, 0.0, 2.6, -2.5])
Y = np.array([1.0, 0.0, -1.0, 3.0, -2.4])


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.MetricWarning)  # the main case must not warn
        return fn(*args, **kw)


def test_mult_acc_rounds_half_to_even_after_clipping():
    m = quiet(M.sentiment_metrics, P, Y)
    # round(clip(p, -3, 3)) = [1, -0, 0, 3, -2] (-2.5 -> -2, half to even); labels [1, 0, -1, 3, -2]
    assert m["Mult_acc_7"] == pytest.approx(4 / 5)
    # clip to [-2, 2]: p -> [1, -0, 0, 2, -2], y -> [1, 0, -1, 2, -2]
    assert m["Mult_acc_5"] == pytest.approx(4 / 5)
    # 2.5 and 0.5 round down to even, 1.5 up: predictions [2.5, 0.5, 1.5] vs labels [2, 0, 2]
    assert M.mult_acc(np.array([2.5, 0.5, 1.5]), np.array([2.0, 0.0, 2.0]), 3.0, "x") == 1.0


def test_mib_convention_by_hand():
    m = quiet(M.sentiment_metrics, P, Y, convention="mib")
    # non-zero subset (y != 0): idx 0, 2, 3, 4; y >= 0 [T F T F], p >= 0 [T T T F] -> 3/4
    assert m["Non0_acc_2"] == pytest.approx(0.75)
    # class T (support 2): P 2/3, R 1 -> F1 0.8; class F (support 2): P 1, R 1/2 -> 2/3
    assert m["Non0_F1_score"] == pytest.approx((2 * 0.8 + 2 * 2 / 3) / 4)
    # all samples: y >= 0 [T T F T F], p >= 0 [T F T T F] -> 3/5; per-class F1 2/3 (n 3), 1/2 (n 2)
    assert m["Has0_acc_2"] == pytest.approx(0.6)
    assert m["Has0_F1_score"] == pytest.approx((3 * 2 / 3 + 2 * 0.5) / 5)
    # MAE on y != 0: (0.2 + 1 + 0.4 + 0.1) / 4
    assert m["MAE"] == pytest.approx(1.7 / 4)
    # Pearson on y != 0: sum dp*dy = 14.805, sum dp^2 = 14.0275, sum dy^2 = 16.67
    assert m["Corr"] == pytest.approx(14.805 / math.sqrt(14.0275 * 16.67))


def test_mmsa_convention_by_hand():
    m = quiet(M.sentiment_metrics, P, Y, convention="mmsa")
    # non-zero subset with > 0: the prediction 0.0 now counts as negative -> all 4 right
    assert m["Non0_acc_2"] == 1.0 and m["Non0_F1_score"] == 1.0
    assert m["Has0_acc_2"] == pytest.approx(0.6)  # has0 is >= 0 in MMSA too
    assert m["MAE"] == pytest.approx(2.0 / 5)  # all samples
    # Pearson on all: sum dp*dy = 14.88, sum dp^2 = 14.34, sum dy^2 = 16.688
    assert m["Corr"] == pytest.approx(14.88 / math.sqrt(14.34 * 16.688))


def test_mult_convention_reproduces_swapped_f1():
    y = np.array([1.0, 2.0, 0.5, 3.0, -1.0])
    p = np.array([1.0, 1.0, -1.0, -2.0, -1.0])
    # y > 0 [T T T T F], p > 0 [T T F F F]: class T F1 = 2*2/(4+0+2) = 2/3, class F F1 = 2/(2+2+0) = 1/2
    right = (4 * 2 / 3 + 1 * 0.5) / 5  # weights from the true classes (4 T, 1 F)
    swapped = (2 * 2 / 3 + 3 * 0.5) / 5  # weights from the predicted classes (2 T, 3 F)
    mmsa = quiet(M.sentiment_metrics, p, y, convention="mmsa")
    mult = quiet(M.sentiment_metrics, p, y, convention="mult")
    assert mmsa["Non0_F1_score"] == pytest.approx(right)
    assert mult["Non0_F1_score"] == pytest.approx(swapped)
    assert mmsa["Non0_acc_2"] == mult["Non0_acc_2"] == pytest.approx(0.6)


def test_mult_has0_uses_strict_positive_on_all_samples():
    m = quiet(M.sentiment_metrics, P, Y, convention="mult")
    # y > 0 [T F F T F], p > 0 [T F F T F]
    assert m["Has0_acc_2"] == 1.0


def test_no_nonzero_labels_warns_and_falls_back():
    p, y = np.array([0.5, -0.5, 0.1]), np.zeros(3)
    with pytest.warns(M.MetricWarning) as rec:
        m = M.sentiment_metrics(p, y)
    text = " ".join(str(w.message) for w in rec)
    assert "no non-zero labels" in text and "constant labels" in text
    assert m["Non0_acc_2"] == 0.0 and m["Non0_F1_score"] == 0.0
    assert m["Has0_acc_2"] == pytest.approx(2 / 3)
    assert m["Has0_F1_score"] == pytest.approx(0.8)  # one class: TP 2, FN 1 -> F1 0.8
    assert m["MAE"] == pytest.approx(1.1 / 3)  # mib falls back to all samples
    assert m["Corr"] == 0.0


def test_constant_predictions_warn_with_defined_values():
    p, y = np.ones(4), np.array([1.0, -1.0, 2.0, -2.0])
    with pytest.warns(M.MetricWarning, match="constant predictions"):
        m = M.sentiment_metrics(p, y)
    assert m["Has0_acc_2"] == 0.5
    assert m["Has0_F1_score"] == pytest.approx((2 * 2 / 3 + 2 * 0) / 4)  # never-predicted class: F1 0
    assert m["Corr"] == 0.0
    assert m["MAE"] == pytest.approx(1.5)


def test_one_class_split_warns():
    with pytest.warns(M.MetricWarning, match="one class"):
        m = M.sentiment_metrics(np.array([1.0, -1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert m["Non0_acc_2"] == pytest.approx(2 / 3)
    assert m["Non0_F1_score"] == pytest.approx(0.8)


def test_empty_and_single_sample_never_nan():
    with pytest.warns(M.MetricWarning):
        empty = M.sentiment_metrics(np.array([]), np.array([]))
    with pytest.warns(M.MetricWarning):
        one = M.sentiment_metrics(np.array([0.5]), np.array([1.0]))
    for m in (empty, one):
        assert all(np.isfinite(v) for v in m.values())
    assert one["Corr"] == 0.0 and one["MAE"] == pytest.approx(0.5)


def test_non_finite_predictions_are_an_error():
    with pytest.raises(ValueError, match="not finite"):
        M.sentiment_metrics(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        M.sentiment_metrics(np.zeros(2), np.ones(3))


def test_emotion_acc_f1_by_hand():
    logits = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-2.0, -1.0]])
    labels = np.array([[1, 0], [0, 1], [0, 1], [0, 0]], dtype=float)
    m = quiet(M.emotion_acc_f1, logits, labels, ["happy", "sad"])
    # happy: predicted [T F T F], true [T F F F] -> acc 3/4; F1 class T 2/3 (n 1), class F 0.8 (n 3)
    assert m["happy_acc"] == pytest.approx(0.75)
    assert m["happy_F1"] == pytest.approx((2 / 3 + 3 * 0.8) / 4)
    assert m["sad_acc"] == 1.0 and m["sad_F1"] == 1.0
    assert m["mean_acc"] == pytest.approx(0.875)
    assert m["mean_F1"] == pytest.approx(((2 / 3 + 2.4) / 4 + 1) / 2)


def test_emotion_wa_auc_by_hand_with_one_class_emotion():
    labels = np.array([[1, 0], [1, 0], [0, 0], [0, 0], [0, 0]], dtype=float)
    logits = np.array([[2.0, -1], [-1.0, -1], [0.5, 1], [-3.0, -1], [-2.0, -1]])
    with pytest.warns(M.MetricWarning, match="one class"):
        m = M.emotion_wa_auc(logits, labels, ["anger", "fear"])
    # anger: TPR 1/2, TNR 2/3; AUC: positive scores {2, -1} beat 3 + 2 of 6 negative pairs
    assert m["anger_WA"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["anger_AUC"] == pytest.approx(5 / 6)
    # fear never present: WA = TNR = 4/5, AUC undefined -> 0.5
    assert m["fear_WA"] == pytest.approx(0.8)
    assert m["fear_AUC"] == 0.5
    assert m["mean_WA"] == pytest.approx(((0.5 + 2 / 3) / 2 + 0.8) / 2)
    assert m["mean_AUC"] == pytest.approx((5 / 6 + 0.5) / 2)


def test_multilabel_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match="K = 3"):
        M.emotion_acc_f1(np.zeros((4, 2)), np.zeros((4, 2)), ["a", "b", "c"])


def test_resolve_family():
    # the config's family wins, then the dataset's (its spec names one per label kind), then the task's
    assert M.resolve_family("auto", "regression") == "sentiment"
    assert M.resolve_family("auto", "multilabel") == "emotion_acc_f1"
    assert M.resolve_family("auto", "multilabel", "emotion_wa_auc") == "emotion_wa_auc"
    assert M.resolve_family("emotion_wa_auc", "multilabel", "emotion_acc_f1") == "emotion_wa_auc"
    assert M.resolve_family("auto", "regression", "sentiment_sims") == "sentiment_sims"
    with pytest.raises(KeyError, match="metric family"):
        M.resolve_family("nope", "regression")


def test_every_dataset_spec_names_registered_families():
    from mmib.data import DATASETS

    mosei = DATASETS.get("mosei")
    assert mosei.metric_family("emotions") == "emotion_wa_auc" and mosei.metric_family("sentiment") == "sentiment"
    assert DATASETS.get("iemocap").metric_family("emotions") == "emotion_acc_f1"
    assert DATASETS.get("sims").metric_family("sentiment") == "sentiment_sims"
    for name, spec in DATASETS.items():
        for family in spec.metrics.values():
            assert family in M.FAMILIES, (name, family)


def test_compute_dispatches_by_family_and_convention():
    m = quiet(M.compute, "regression", P[:, None], Y[:, None], ["sentiment"], convention="mmsa")
    assert m["MAE"] == pytest.approx(0.4)
    with pytest.raises(KeyError, match="convention"):
        M.compute("regression", P[:, None], Y[:, None], ["sentiment"], convention="nope")


def test_higher_is_better_and_headline():
    assert not M.higher_is_better("loss") and not M.higher_is_better("MAE")
    assert not M.higher_is_better("task/fused") and not M.higher_is_better("kl/text")
    assert M.higher_is_better("Non0_acc_2") and M.higher_is_better("mean_AUC") and M.higher_is_better("Corr")
    m = quiet(M.sentiment_metrics, P, Y)
    assert [h for h, _ in M.headline(m)] == [
        "Acc7", "Acc2 has0", "F1 has0", "Acc2 non0", "F1 non0", "MAE", "Corr"]
    e = {"a_WA": 0.5, "a_AUC": 0.6, "mean_WA": 0.5, "mean_AUC": 0.6}
    assert M.headline_keys(e) == [("a WA", "a_WA"), ("a AUC", "a_AUC"), ("mean WA", "mean_WA"),
                                  ("mean AUC", "mean_AUC")]
    assert M.is_percent("Non0_F1_score") and M.is_percent("a_AUC") and not M.is_percent("MAE")


def test_eval_config_choices_are_validated():
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), ["eval.convention='mmsa'"])
    assert cfg.eval.convention == "mmsa" and cfg.eval.metrics == "auto"
    from mmib.engine import check_config  # the names come from the metrics' own tables

    with pytest.raises(config_mod.ConfigError, match="eval.convention"):
        check_config(config_mod.apply_overrides(config_mod.ExperimentConfig(), ["eval.convention='paper'"]))
    with pytest.raises(config_mod.ConfigError, match="eval.metrics"):
        check_config(config_mod.apply_overrides(config_mod.ExperimentConfig(), ["eval.metrics='f1'"]))


def test_sims_family_by_hand():
    p = np.array([0.5, -0.05, 0.0, -0.8, 1.5])  # 1.5 is clipped to 1.0
    y = np.array([0.6, 0.2, -0.2, -1.0, 0.8])
    from mmib.data import DATASETS

    assert M.resolve_family("auto", "regression", DATASETS.get("sims").metric_family("sentiment")) == "sentiment_sims"
    m = quiet(M.compute, "regression", p[:, None], y[:, None], ["sentiment"], default="sentiment_sims")
    # 2 classes (-1, 0] / (0, 1]: p [1 0 0 0 1], y [1 1 0 0 1]
    assert m["Mult_acc_2"] == pytest.approx(0.8)
    # 3 classes split at -0.1 / 0.1: p [2 1 1 0 2], y [2 2 0 0 2]
    assert m["Mult_acc_3"] == pytest.approx(0.6)
    # 5 classes split at -0.7 / -0.1 / 0.1 / 0.7: p [3 2 2 0 4], y [3 3 1 0 4]
    assert m["Mult_acc_5"] == pytest.approx(0.6)
    assert m["F1_score"] == pytest.approx(0.8)  # both classes have F1 0.8
    assert m["MAE"] == pytest.approx(0.95 / 5)
    assert [h for h, _ in M.headline(m)] == ["Acc2", "Acc3", "Acc5", "F1", "MAE", "Corr"]
