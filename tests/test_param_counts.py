"""Parameter counts: the paper's Table XI reproduced exactly (bert-base sizes, MOSI's
MAG-BERT dims, d = 50, concat), and ``mmib model summary``."""

from __future__ import annotations

import re

import pytest
import torch

from mmib import config as config_mod
from mmib.cli import main
from mmib.encoders import build_backbone
from mmib.models import MIBModel

TABLE_XI = {  # paper Table XI, CMU-MOSI with bert-base-uncased
    "noib": 109_216_699,
    "emib": 109_371_423,
    "bmib": 109_371_423,  # B-MIB is E-MIB's architecture trained with beta = 0
    "lmib": 109_681_024,
    "cmib": 109_835_748,
}
MOSI_DIMS = {"text": 0, "audio": 74, "visual": 47}


@pytest.fixture(scope="module")
def bert_base():
    # BertModel(BertConfig()) without pooler, on the meta device: sizes only, no memory
    with torch.device("meta"):
        return build_backbone("bert-base-config", pretrained=False)


@pytest.mark.parametrize("variant", sorted(TABLE_XI))
def test_table_xi_exactly(bert_base, variant: str) -> None:
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), [
        f"model.variant='{variant}'", "model.fusion='concat'", "model.d=50"])
    with torch.device("meta"):
        model = MIBModel(cfg.model, cfg.data.modalities, MOSI_DIMS, 1, bert_base)
    assert sum(p.numel() for p in model.parameters()) == TABLE_XI[variant]


def test_bert_base_config_has_no_pooler(bert_base) -> None:
    assert sum(p.numel() for p in bert_base.model.parameters()) == 108_891_648
    assert bert_base.hidden_size == 768


def _summary(capsys, *args: str) -> list[str]:
    assert main(["model", "summary", *args]) == 0
    return capsys.readouterr().out.strip().splitlines()


def test_summary_command_matches_table_xi(capsys) -> None:
    lines = _summary(capsys, "--variant", "cmib", "--fusion", "concat", "--text-encoder",
                     "bert-base-config", "--audio-dim", "74", "--visual-dim", "47")
    assert lines[-1] == "total parameters: 109,835,748"
    table = "\n".join(lines)
    assert re.search(r"encoders\.text\.backbone\s+BertModel\s+108,891,648", table)
    assert re.search(r"fused_ib\s+IBHead\s+154,724", table)


def _total(lines: list[str]) -> int:
    return int(lines[-1].split(":")[1].replace(",", ""))


def _row(lines: list[str], name: str) -> int:
    for line in lines:
        parts = line.split()
        if parts and parts[0] == name:
            return int(parts[-1].replace(",", ""))
    raise AssertionError(f"no row {name} in {lines}")


def test_summary_dataset_defaults(capsys) -> None:
    tiny = ["--text-encoder", "tiny-config", "--variant", "noib"]
    mosi = _summary(capsys, "--dataset", "mosi", *tiny)
    mosei = _summary(capsys, "--dataset", "mosei", *tiny)
    assert _row(mosi, "encoders.visual.conv") == 47 * 50 * 3
    assert _row(mosei, "encoders.visual.conv") == 35 * 50 * 3
    assert _total(mosi) - _total(mosei) == (47 - 35) * 50 * 3
    # iemocap: glove 300-d text through Conv1D + Transformer, 4 emotion logits
    iemocap = _summary(capsys, "--dataset", "iemocap", "--variant", "noib")
    assert "text encoder glove" in iemocap[0]
    assert _row(iemocap, "encoders.text.conv") == 300 * 50 * 3
    assert _row(iemocap, "decoder") == 50 * 4 + 4
    # explicit dims win over the dataset's
    custom = _summary(capsys, "--dataset", "mosi", *tiny, "--visual-dim", "10")
    assert _row(custom, "encoders.visual.conv") == 10 * 50 * 3


def test_summary_counts_subsets_and_fusions(capsys) -> None:
    lines = _summary(capsys, "--text-encoder", "tiny-config", "--variant", "lmib", "--fusion", "poe",
                     "--set", "data.modalities=['text', 'audio']", "--set", "model.d=10",
                     "--set", "model.n_heads=2")
    assert "encoders.visual" not in "\n".join(lines)
    assert lines[-1].startswith("total parameters: ")


def test_summary_poe_with_emib_is_a_config_error(capsys) -> None:
    assert main(["model", "summary", "--text-encoder", "tiny-config", "--variant", "emib",
                 "--fusion", "poe"]) == 2
    assert "model.fusion" in capsys.readouterr().err


def test_ithp_and_estimator_counts_with_bert_base(capsys) -> None:
    """docs/models.md: ithp with bert-base sizes and MOSI dims, and the estimators' own counts."""
    lines = _summary(capsys, "--variant", "ithp", "--fusion", "concat", "--text-encoder", "bert-base-config",
                     "--audio-dim", "74", "--visual-dim", "47")
    ib_head = 154_724
    recon = (50 * 50 + 50) * 2 + (50 * 74 + 74) + (50 * 47 + 47)  # two 2-layer MLPs: to audio, then visual
    by_hand = 108_891_648 + 115_200 + 2 * ib_head + recon + (100 * 50 + 50) + 51  # prime + final code fused
    assert _total(lines) == by_hand == 109_332_668
    assert _row(lines, "reconstructors") == recon and _row(lines, "stages") == 2 * ib_head
    lines = _summary(capsys, "--variant", "cmib", "--fusion", "concat", "--text-encoder", "bert-base-config",
                     "--audio-dim", "74", "--visual-dim", "47", "--set", "objective.constraint='mine'")
    assert lines[-2] == "total parameters: 109,835,748"  # the model is unchanged
    mine = (50 * 64 + 64) + 50 * 64 + (64 * 64 + 64) + (64 + 1)  # T(x, z): separable first layer, 2 more
    assert lines[-1].startswith(f"estimator parameters: {4 * mine:,} (mine")
