"""Grid sweeps and the paper's presets: expansion, labels, one sweep end to end through the CLI
(table, files, averages), reuse on rerun, refusals before training, presets' cells."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import TINY, tiny_config
from mmib import config as config_mod
from mmib.studies import grid as G, presets as paper, sweep
from mmib.cli import main
from mmib.config import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")

SMALL = TINY + ["train.epochs=1", "model.n_layers=1", "data.synth.n_train=32"]


def small_args(out_dir) -> list[str]:
    return [a for kv in SMALL for a in ("--set", kv)] + ["--out-dir", str(out_dir), "-q"]


@pytest.fixture
def fit_calls(monkeypatch):
    """Count trainings (the seed runner's fit)."""
    import mmib.studies.seeds as seeds_mod

    calls: list[str] = []
    real = seeds_mod.fit

    def counting(cfg, **kw):
        calls.append(str(kw.get("run_dir")))
        return real(cfg, **kw)

    monkeypatch.setattr(seeds_mod, "fit", counting)
    return calls


# ----------------------------------------------------------------------------- the grid

def test_parse_grid_expand_and_labels():
    grid = G.parse_grid(["model.variant=emib,lmib", "objective.beta=1e-3, 0",
                             'data.modalities=["text"],["text", "audio"]'])
    assert grid == [("model.variant", ["emib", "lmib"]), ("objective.beta", [1e-3, 0]),
                    ("data.modalities", [["text"], ["text", "audio"]])]
    cells = G.expand(grid)
    assert len(cells) == 8
    assert cells[0] == {"model.variant": "emib", "objective.beta": 1e-3, "data.modalities": ["text"]}
    assert cells[3] == {"model.variant": "emib", "objective.beta": 0, "data.modalities": ["text", "audio"]}
    assert [c["model.variant"] for c in cells] == ["emib"] * 4 + ["lmib"] * 4  # first key slowest
    c = cells[3]
    assert G.row_label(c) == "emib / 0 / text+audio"
    assert G.describe(c) == "model.variant=emib objective.beta=0 data.modalities=[text, audio]"
    assert G.cell_name(c) == "variant=emib,beta=0,modalities=text+audio"
    assert G.row_label({"model.no_ib_modalities": []}) == "none"
    assert G.fmt({"rank": 4}) == "{\"rank\": 4}"  # fusion_options cells
    assert G.cell_name({"train.seed": 1, "data.synth.seed": 2}) == "train.seed=1,data.synth.seed=2"
    assert sweep.default_average(grid) == ["model.variant", "objective.beta", "data.modalities"]
    assert sweep.default_average([("model.variant", ["emib", "lmib"])]) == []


@pytest.mark.parametrize("specs, match", [
    (["model.variant"], "expected KEY=V1,V2"),
    (["model.variant=emib,,lmib"], "empty value"),
    (["model.variant=emib", "model.variant=lmib"], "given twice"),
    (["model.variant=emib,emib"], "listed twice"),
    (["train.seed=0,1"], "use --seeds"),
    (["name=a,b"], "places the runs"),
])
def test_bad_grid_specs(specs, match):
    with pytest.raises(ConfigError, match=match):
        G.parse_grid(specs)


@pytest.mark.parametrize("grid, match", [
    ({"objective.beta": [1e-3, -1]}, r"objective.beta=-1: objective.beta: expected a value >= 0"),
    ({"model.variant": ["cmib", "foo"]}, r"model.variant=foo: model.variant: unknown variant 'foo'; expected one of"),
    ({"model.fusion": ["concat", "nope"]}, r"model.fusion: unknown fusion 'nope'"),
    ({"objective.constraint": ["kl", "l2"]}, r"objective.constraint: unknown constraint 'l2'"),
    ({"model.variant": ["emib"], "model.fusion": ["poe"]}, r"model.fusion = 'poe'"),
    ({"model.widht": [1, 2]}, r"model.widht: unknown key"),
    ({"modle.d": [1, 2]}, r"'modle' is not a config section"),
    ({"data.dataset": ["synth", "mosi"]}, r"data.path: dataset 'mosi' needs a data file"),
])
def test_invalid_cells_fail_before_training(tmp_path, fit_calls, grid, match):
    with pytest.raises(ConfigError, match=match):
        sweep.run_sweep(tiny_config(tmp_path, "name='bad'"), grid, 1, log=lambda m: None)
    assert fit_calls == [] and not (tmp_path / "bad").exists()


def test_invalid_value_through_the_cli_names_the_key(tmp_path, fit_calls, capsys):
    rc = main(["sweep", *small_args(tmp_path), "--name", "bad", "--grid", "model.variant=cmib",
               "--grid", "objective.beta=1e-3,-2", "--seeds", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "objective.beta: expected a value >= 0, got -2.0" in err
    assert "grid cell model.variant=cmib objective.beta=-2" in err
    assert fit_calls == [] and not (tmp_path / "bad").exists()


def test_skip_rules_and_skip_invalid(tmp_path):
    cfg = tiny_config(tmp_path, "name='s'")
    grid = [("model.variant", ["emib", "cmib"]), ("model.fusion", ["concat", "poe"])]
    cells, skipped = sweep.plan(cfg, grid, skip_invalid=True)
    assert [G.row_label(c.values) for c in cells] == ["emib / concat", "cmib / concat", "cmib / poe"]
    assert [s["label"] for s in skipped] == ["emib / poe"] and "model.fusion" in skipped[0]["reason"]
    assert all(c.group.parent == tmp_path / "s" for c in cells)
    assert cells[2].cfg.name == "variant=cmib,fusion=poe" and cells[2].cfg.model.fusion == "poe"
    with pytest.raises(ConfigError, match="every cell of the grid is skipped"):
        sweep.plan(cfg, grid, skip=lambda v: "no")


# ----------------------------------------------------------------------------- end to end

def _metric(res, label, key, stat="mean"):
    return next(c for c in res["cells"] if c["label"] == label)["results"]["test"][stat][key]


@pytest.mark.slow
def test_sweep_end_to_end_rerun_and_resume(tmp_path, fit_calls, capsys):
    argv = ["sweep", *small_args(tmp_path), "--name", "sw", "--grid", "model.variant=emib,cmib",
            "--grid", "model.fusion=concat,addition", "--seeds", "2", "--markdown"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(fit_calls) == 8
    assert "cell 1/4: model.variant=emib model.fusion=concat" in out
    assert "cell 4/4: model.variant=cmib model.fusion=addition" in out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("variant / fusion"))
    labels = [line.split("  ")[0] for line in lines[head + 2: head + 10]]
    assert labels == ["emib / concat", "emib / addition", "cmib / concat", "cmib / addition",
                      "emib / average", "cmib / average", "average / concat", "average / addition"]
    assert all(" ± " in line for line in lines[head + 2: head + 10])
    assert "| variant / fusion | Acc7 |" in out and "mean ± std over 2 seeds [0, 1]" in out

    d = tmp_path / "sw"
    res = json.loads((d / "sweep.json").read_text())
    assert res["finished"] and res["seeds"] == [0, 1] and len(res["cells"]) == 4 and not res["skipped"]
    for c in res["cells"]:  # each cell is an ordinary seed group; the sweep holds its runs' test metrics
        for s in (0, 1):
            summary = json.loads((d / c["results"]["name"] / f"seed-{s}" / "summary.json").read_text())
            assert c["results"]["test"]["per_seed"][str(s)]["MAE"] == summary["test"]["MAE"]
    assert _metric(res, "emib / concat", "MAE") != _metric(res, "cmib / concat", "MAE")
    for a in res["averages"]:
        members = [c for c in res["cells"] if c["values"][a["key"]] == a["value"]]
        assert len(members) == 2 and a["cells"] == [c["label"] for c in members]
        for key in ("Mult_acc_7", "Non0_acc_2", "MAE", "Corr", "loss"):
            cell_means = [c["results"]["test"]["mean"][key] for c in members]
            assert a["test"]["mean"][key] == pytest.approx(np.mean(cell_means), abs=1e-12)
            per_seed = [np.mean([c["results"]["test"]["per_seed"][s][key] for c in members]) for s in ("0", "1")]
            assert a["test"]["std"][key] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-12)

    rows = list(csv.DictReader((d / "sweep.csv").open()))
    assert [r["row"] for r in rows] == labels and [r["kind"] for r in rows] == ["cell"] * 4 + ["average"] * 4
    assert rows[1]["model.fusion"] == "addition" and rows[6]["model.variant"] == "average"
    assert float(rows[1]["MAE mean"]) == _metric(res, "emib / addition", "MAE")  # full precision
    assert float(rows[5]["Corr std"]) == res["averages"][1]["test"]["std"]["Corr"]
    md = (d / "sweep.md").read_text()
    assert "| variant / fusion | Acc7 | Acc2 has0 |" in md and "| cmib / average |" in md and "'average' rows" in md

    # a rerun trains nothing and reports the same numbers
    mtimes = sorted((f, f.stat().st_mtime_ns) for f in d.glob("*/seed-*/summary.json"))
    assert main(argv) == 0
    out2 = capsys.readouterr().out
    assert len(fit_calls) == 8 and out2.count("finished earlier") == 8
    assert sorted((f, f.stat().st_mtime_ns) for f in d.glob("*/seed-*/summary.json")) == mtimes
    assert json.loads((d / "sweep.json").read_text())["averages"] == res["averages"]

    # a lost run (a crash) is the only one trained again
    import shutil

    shutil.rmtree(d / "variant=cmib,fusion=addition" / "seed-1")
    assert main(argv) == 0
    assert fit_calls[8:] == [str(d / "variant=cmib,fusion=addition" / "seed-1")]

    # another base config under the same name is refused before anything trains
    capsys.readouterr()
    assert main(argv + ["--set", "train.batch_size=8"]) == 2
    assert "different config" in capsys.readouterr().err and len(fit_calls) == 9


def test_a_run_directory_is_not_a_sweep(tmp_path, fit_calls):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "summary.json").write_text("{}")
    with pytest.raises(RuntimeError, match="single run, not a sweep"):
        sweep.run_sweep(tiny_config(tmp_path, "name='x'"), {"model.variant": ["cmib"]}, 1, log=lambda m: None)
    assert fit_calls == []


# ----------------------------------------------------------------------------- paper presets

def _preset_cells(tmp_path, name, *extra):
    p = paper.get(name)
    cfg = config_mod.apply_overrides(tiny_config(tmp_path, *extra), list(p.fixed))
    return sweep.plan(cfg, p.grid, skip=p.skip)


def test_presets_expand_to_the_papers_cells(tmp_path):
    for name in ("table1", "table2", "table3"):
        cells, skipped = _preset_cells(tmp_path, name)
        assert [c.cfg.model.variant for c in cells] == ["bmib", "emib", "lmib", "cmib"] and not skipped
        assert {c.cfg.model.fusion for c in cells} == {"concat"}

    mosei = tmp_path / "mosei.pkl"
    mosei.write_bytes(b"")  # only its existence is checked before training
    cells, _ = _preset_cells(tmp_path, "table4", "data.dataset='mosei'", f"data.path='{mosei}'")
    assert len(cells) == 4 and {c.cfg.data.labels for c in cells} == {"emotions"}
    with pytest.raises(ConfigError, match="data.labels"):
        _preset_cells(tmp_path, "table4")  # synth has no emotions

    cells, _ = _preset_cells(tmp_path, "table5")
    assert [c.cfg.model.no_ib_modalities for c in cells] == [[], ["text"], ["audio"], ["visual"]]
    assert {c.cfg.model.variant for c in cells} == {"cmib"}

    cells, skipped = _preset_cells(tmp_path, "table6")
    fusions = ["concat", "addition", "multiplication", "tensor", "lowrank", "graph"]
    assert [(c.cfg.model.variant, c.cfg.model.fusion) for c in cells] == (
        [("emib", f) for f in fusions] + [(v, f) for v in ("lmib", "cmib") for f in fusions + ["poe"]])
    assert [s["values"] for s in skipped] == [{"model.variant": "emib", "model.fusion": "poe"}]
    assert paper.get("table7") is paper.get("table6") and paper.get("table6").average == ("model.variant",)

    cells, _ = _preset_cells(tmp_path, "table8")
    assert len(cells) == 14 and [c.cfg.model.variant for c in cells[:2]] == ["noib", "cmib"]
    assert [c.cfg.data.modalities for c in cells[::2]] == [
        ["text"], ["audio"], ["visual"], ["text", "audio"], ["text", "visual"], ["audio", "visual"],
        ["text", "audio", "visual"]]

    cells, _ = _preset_cells(tmp_path, "table9")
    assert [c.cfg.objective.beta for c in cells] == [1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0]
    assert cells[-1].cfg.name == "beta=0" and {c.cfg.model.variant for c in cells} == {"cmib"}

    cells, _ = _preset_cells(tmp_path, "table10")
    assert [c.cfg.objective.constraint for c in cells] == ["kl", "mmd", "coral", "orthogonality", "euclidean",
                                                           "cosine"]
    assert [c.cfg.model.variant for c in _preset_cells(tmp_path, "fig4")[0]] == ["noib", "cmib"]
    assert [c.cfg.model.variant for c in _preset_cells(tmp_path, "fig5")[0]] == ["cmib"]


def test_paper_list_and_pointer(capsys):
    assert main(["paper", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("table1", "table4", "table5", "table6", "table8", "table9", "table10", "table11", "fig4",
                 "fig5", "table2", "table7"):
        line = next(x for x in out.splitlines() if x.split()[0] == name)
        assert len(line.split(None, 1)[1]) > 10  # a description
    assert "mmib model summary" in out
    assert main(["paper", "table11"]) == 0 and "mmib model summary" in capsys.readouterr().out
    assert main(["paper", "table99"]) == 2 and "unknown paper experiment 'table99'" in capsys.readouterr().err


def test_paper_fig5_trains_then_plots_and_flags_override_the_preset(tmp_path, fit_calls, capsys):
    assert main(["paper", "fig5", *small_args(tmp_path), "--seeds", "1", "--set", "model.fusion='addition'"]) == 0
    out = capsys.readouterr().out
    d = tmp_path / "demo-fig5"  # default name: <config name>-<experiment>
    assert len(fit_calls) == 1 and "cell 1/1: model.variant=cmib" in out
    assert (d / "plots" / "kl_per_bottleneck.png").stat().st_size > 0 and "wrote" in out
    res = json.loads((d / "sweep.json").read_text())
    assert res["title"].startswith("fig5") and res["cells"][0]["results"]["model"]["fusion"] == "addition"
    assert "fusion addition" in (d / "sweep.md").read_text()


@pytest.mark.slow
def test_paper_fig4_draws_the_tsne_of_both_cells(tmp_path, fit_calls, capsys):
    assert main(["paper", "fig4", *small_args(tmp_path), "--seeds", "1", "--name", "f4"]) == 0
    out = capsys.readouterr().out
    assert len(fit_calls) == 2 and "noib" in out and "cmib" in out
    assert "variant=noib is a seed group; plotting its run seed-0" in out
    assert (tmp_path / "f4" / "plots" / "tsne_fused.png").stat().st_size > 0
