"""The worked examples of docs/extending.md: each block saved as one file, imported, then used."""

from __future__ import annotations

import importlib.util
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config
from mmib import config as config_mod

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def example(name: str) -> str:
    m = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"docs/extending.md: no example block {name!r}"
    return m.group(1)


@pytest.fixture
def part_file(tmp_path):
    """Save an example as a module file and import it (what the package does with a new file);
    the registry entries it adds are removed afterwards."""
    added: list[tuple[object, str]] = []

    def load(name: str, registry, entry: str):
        path = tmp_path / f"ex_{re.sub(r'[^a-z]', '_', name)}.py"
        path.write_text(example(name))
        assert entry not in registry
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        assert entry in registry
        added.append((registry, entry))
        return module

    yield load
    for registry, entry in added:
        registry.remove(entry)


def _lists_file(path: Path, bound: float = 2.0, seed: int = 0) -> Path:
    """A file in the 'lists' layout of the reader example (labels in [-bound, bound])."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in (("train", 40), ("valid", 10), ("test", 12)):
        y = np.round(rng.uniform(-bound, bound, n), 1)
        text, audio, visual = [], [], []
        for k in range(n):
            t = int(rng.integers(3, 12))
            text.append(" ".join(rng.choice(["good", "bad", "the", "film", "was", "okay"], t)))
            audio.append((rng.normal(0, 1, (t * 2, 5)) + y[k]).astype(np.float32))
            visual.append((rng.normal(0, 1, (t, 20)) - y[k]).astype(np.float32))
        data[split] = {"text": text, "audio": audio, "visual": visual, "label": y.tolist(),
                       "id": [f"{split}{k}" for k in range(n)]}
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


def test_constraint_example(part_file, tmp_path):
    from mmib.engine import fit
    from mmib.objectives import CONSTRAINTS

    part_file("constraint", CONSTRAINTS, "l2code")
    summary = fit(tiny_config(tmp_path, "train.epochs=1", "objective.constraint='l2code'"))
    assert "l2code/fused" in summary["valid"] and "l2code/text" in summary["valid"]


def test_variant_example(part_file, tmp_path):
    from mmib.engine import Experiment, check_config, fit
    from mmib.models import VARIANTS

    part_file("variant", VARIANTS, "blmib")
    cfg = tiny_config(tmp_path, "model.variant='blmib'", "train.epochs=1")
    exp = Experiment.build(cfg)
    assert exp.objective.beta == 0.0 and exp.model.ib_modalities == ["text", "audio", "visual"]
    assert not hasattr(exp.model, "fused_ib")
    check_config(config_mod.set_value(cfg, "model.fusion", "poe"))  # it has per-modality posteriors
    summary = fit(cfg)
    assert summary["variant"] == "blmib" and "kl/text" in summary["test"]


def test_dataset_and_reader_examples_train_together(part_file, tmp_path):
    from mmib.data import DATASETS
    from mmib.data.readers import READERS, load_corpus
    from mmib.data.validate import DataError
    from mmib.engine import fit

    part_file("dataset", DATASETS, "mydata")
    part_file("reader", READERS, "lists")
    path = _lists_file(tmp_path / "mine.pkl")
    assert load_corpus(path).reader == "lists"  # detected from its structure
    cfg = tiny_config(tmp_path, "data.dataset='mydata'", f"data.path='{path}'", "train.epochs=1")
    summary = fit(cfg)
    assert summary["dataset"] == "mydata" and summary["sizes"] == {"train": 40, "valid": 10, "test": 12}
    assert summary["metric_family"] == "sentiment" and "Non0_acc_2" in summary["test"]
    bad = _lists_file(tmp_path / "wide.pkl", bound=2.5, seed=1)
    with pytest.raises(DataError, match=r"expected a sentiment score in \[-2, 2\] for dataset 'mydata'"):
        fit(config_mod.set_value(cfg, "data.path", str(bad)))


def test_text_encoder_example(part_file, tmp_path):
    from mmib.encoders import TEXT_ENCODERS
    from mmib.engine import fit

    part_file("text encoder", TEXT_ENCODERS, "small-bert")
    summary = fit(tiny_config(tmp_path, "model.text_encoder='small-bert'", "train.epochs=1"))
    assert summary["text_encoder"] == "small-bert"
    saved = tmp_path / "demo" / "text_encoder" / "config.json"
    assert '"hidden_size": 128' in saved.read_text()


def test_extractor_example_extracts_a_manifest(part_file, tmp_path):
    from media import voiced, write_clip

    from mmib.data.readers import converted
    from mmib.extract import EXTRACTORS
    from mmib.extract.pipeline import extract_manifest

    part_file("extractor", EXTRACTORS, "loudness")
    rows = ["id,media,text,label,split"]
    for i, split in enumerate(["train", "valid", "test"]):
        write_clip(tmp_path / f"{i}.wav", audio=voiced(150, 1.0) * (i + 1) / 3)
        rows.append(f"c{i},{i}.wav,hello,{i - 1},{split}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    res = extract_manifest(tmp_path / "m.csv", tmp_path / "d.safetensors", audio="loudness", workers=1,
                           progress=False, asr=None)
    c = converted.read(res.out)
    assert c.dims["audio"] == 2 and c.extraction["audio"]["extractor"] == "loudness"
    levels = [float(np.median(c.splits[s].fields["audio"][0][:, 0])) for s in ("train", "valid", "test")]
    assert len(c.splits["train"].fields["audio"][0]) == 50 and levels[0] < levels[1] < levels[2]
