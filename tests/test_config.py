import subprocess
import sys

import pytest

from mmib import config as config_mod
from mmib.config import ConfigError, ExperimentConfig


def test_round_trip_through_toml(tmp_path):
    cfg = config_mod.apply_overrides(ExperimentConfig(), [
        "objective.beta=0.01", "data.modalities=['text','audio']", "model.fusion_options={rank=4}",
        "train.epochs=3", "name='x'"])
    path = tmp_path / "c.toml"
    cfg.save(path)
    again = config_mod.load(path)
    assert again == cfg
    assert again.data.modalities == ["text", "audio"]
    assert again.model.fusion_options == {"rank": 4}


def test_defaults_are_the_papers():
    cfg = ExperimentConfig()
    assert (cfg.model.d, cfg.objective.beta, cfg.optim.lr, cfg.optim.text_lr) == (50, 1e-3, 2e-5, 1e-5)
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.data.max_len) == (32, 50, 50)


@pytest.mark.parametrize("text, needle", [
    ("[model]\nvarient = 'cmib'\n", "unknown key model.varient"),
    ("[train]\nepochs = 'ten'\n", "train.epochs: expected an integer"),
    ("[objective]\nbeta = -0.1\n", "objective.beta: expected a value >= 0"),
    ("[data.synth]\nn_valid = 0\n", "data.synth.n_valid: expected at least 1 utterance"),
    ("[data]\nmodalities = []\n", "data.modalities: expected a non-empty subset"),
    ("[model]\nvariant = 'xmib'\n", "model.variant: unknown variant 'xmib'; expected one of emib"),
    ("[train]\nprogress = 1\n", "train.progress: expected true or false"),
    ("nonsense = = 1", "not valid TOML"),
])
def test_bad_config_names_key_and_expectation(tmp_path, text, needle):
    from mmib.engine import check_config

    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:  # the schema's checks, then the registries' (as every command does)
        check_config(config_mod.load(path), data=False, source=str(path))
    assert needle in str(e.value)
    assert str(path) in str(e.value)


def test_overrides_parse_toml_values():
    cfg = config_mod.apply_overrides(ExperimentConfig(), ["objective.beta=1e-4", "train.device=cpu",
                                                          "model.freeze_text_encoder=true"])
    assert cfg.objective.beta == 1e-4 and cfg.train.device == "cpu" and cfg.model.freeze_text_encoder
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config_mod.apply_overrides(cfg, ["objective.beta"])
    with pytest.raises(ConfigError, match="unknown key objective.bta"):
        config_mod.apply_overrides(cfg, ["objective.bta=1"])


def test_every_shipped_config_builds():
    from pathlib import Path

    files = sorted(Path(__file__).parents[1].joinpath("configs").glob("*.toml"))
    assert files
    for f in files:
        config_mod.load(f)


@pytest.mark.slow
def test_cli_reports_bad_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[objective]\nbeta = -1\n")
    r = subprocess.run([sys.executable, "-m", "mmib.cli", "config", "validate", "-c", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "objective.beta: expected a value >= 0, got -1.0" in r.stderr


def test_reference_lists_every_field():
    keys = [row[0] for row in config_mod.describe()]
    assert "objective.beta" in keys and "data.synth.audio_noise" in keys
    doc = dict((row[0], row[3]) for row in config_mod.describe())
    assert "Weight of the constraint" in doc["objective.beta"]


def test_docs_config_md_is_the_generated_reference_and_every_key_is_documented():
    from pathlib import Path

    from mmib.config import describe, reference_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert doc.read_text() == reference_markdown(), "run: mmib config reference > docs/config.md"
    assert [key for key, _, _, text in describe() if not text.strip()] == []


@pytest.mark.parametrize("override, needle", [
    ("model.fusion='nope'", "model.fusion: unknown fusion 'nope'; expected one of addition, concat, graph"),
    ("objective.constraint='l3'", "objective.constraint: unknown constraint 'l3'; expected one of coral"),
    ("data.dataset='mosj'", "data.dataset: unknown dataset 'mosj'; expected one of auto, iemocap, mosei, mosi, sims, synth"),
    ("data.format='hdf5'", "data.format: unknown data format 'hdf5'; expected one of auto, converted, magbert, mmsa"),
    ("model.variant='xmib'", "model.variant: unknown variant 'xmib'; expected one of emib, lmib, cmib, bmib, noib"),
    ("eval.metrics='f1'", "eval.metrics: unknown metric family 'f1'; expected one of auto, sentiment"),
    # a Hub name offline is described, not refused (tests/test_first_hour.py); a missing folder is refused
    ("model.text_encoder='/no/such/encoder'", "model.text_encoder: expected a registered text encoder (minilm, "
     "bert-base-config, minilm-config, tiny-config, glove, roberta-base, "),
])
def test_config_validate_refuses_names_no_registry_knows(override, needle, capsys, monkeypatch, tmp_path):
    from mmib.cli import main

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache; HF_HUB_OFFLINE is set
    assert main(["config", "validate", "--set", override]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert main(["config", "validate"]) == 0 and "defaults: valid" in capsys.readouterr().out


def test_config_validate_accepts_a_hub_name_in_the_local_cache_offline(tmp_path, monkeypatch, capsys):
    """Offline, a Hugging Face name is valid when the local cache holds it (here a cache laid
    out by hand as huggingface_hub lays it out)."""
    from mmib.cli import main

    hub = tmp_path / "hf" / "hub" / "models--someone--cached-encoder"
    (hub / "refs").mkdir(parents=True)
    (hub / "refs" / "main").write_text("0123abcd")
    (hub / "snapshots" / "0123abcd").mkdir(parents=True)
    (hub / "snapshots" / "0123abcd" / "config.json").write_text('{"model_type": "bert"}')
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    assert main(["config", "validate", "--text-encoder", "someone/cached-encoder"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["config", "validate", "--text-encoder", "someone/not-cached"]) == 0  # described, with the fix
    out = capsys.readouterr().out
    assert "valid; to train it here, 1 thing(s)" in out and "--text-encoder minilm" in out
    assert "not in the local Hugging Face cache, and HF_HUB_OFFLINE is set" in out
