"""Plots from a tiny run: valid PNG files with the expected content."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from eval_runs import eval_runs  # noqa: F401  (session fixture)
from mmib.report import plots
from mmib.engine import read_log
from mmib.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_w=300, min_h=200):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h
    assert img[..., :3].std() > 0.01  # something was drawn
    return img


@pytest.mark.slow
def test_plot_command_writes_three_pngs(eval_runs, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", str(eval_runs / "cm" / "seed-0"), "--compare", str(eval_runs / "bm"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("learning_curves.png", "kl_per_bottleneck.png", "tsne_fused.png"):
        assert f"wrote {out / name}" in printed
        check_png(out / name)
    # two t-SNE panels side by side: wider than tall
    h, w = imread(out / "tsne_fused.png").shape[:2]
    assert w > 1.6 * h


def test_tsne_of_an_emotion_run(eval_runs, tmp_path):
    out = plots.tsne([eval_runs / "iem"], tmp_path / "t.png")
    check_png(out)


def test_kl_curves_follow_the_log(eval_runs):
    log = read_log(eval_runs / "cm" / "seed-0")
    assert plots.constraint_terms(log) == ["kl/text", "kl/audio", "kl/visual", "kl/fused"]
    assert plots.constraint_terms(read_log(eval_runs / "bm")) == ["kl/fused"]


def test_group_dir_plots_its_first_seed_and_only_filter(eval_runs, tmp_path):
    lines = []
    files = plots.plot_run(eval_runs / "cm", tmp_path, what=("curves", "kl"), log=lines.append)
    assert [f.name for f in files] == ["learning_curves.png", "kl_per_bottleneck.png"]
    assert "seed-0" in lines[0]
    with pytest.raises(ValueError, match="unknown plot"):
        plots.plot_run(eval_runs / "cm", tmp_path, what=("bars",))


def test_embedding_and_neighbour_agreement():
    rng = np.random.default_rng(0)
    y = np.repeat([-2.0, 2.0], 20)
    codes = np.concatenate([rng.normal(-3, 0.3, (20, 5)), rng.normal(3, 0.3, (20, 5))])
    assert plots.neighbour_agreement(codes, y) == pytest.approx(1.0)
    xy = plots.embed(codes)
    assert xy.shape == (40, 2)
    # the two clusters stay apart in the embedding
    centres = np.stack([xy[:20].mean(0), xy[20:].mean(0)])
    nearest = np.linalg.norm(xy[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest == np.repeat([0, 1], 20)).all()
    shuffled = rng.permutation(y)
    assert plots.neighbour_agreement(codes, shuffled) < 0.8


def test_missing_log_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log"):
        read_log(tmp_path)
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"epoch": 0, "train": {"loss": 1.0}}) + "\n")
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        plots.plot_run(tmp_path / "nope")
