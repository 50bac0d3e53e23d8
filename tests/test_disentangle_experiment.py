"""The Fig. 4b experiment (``bench disentangle``): cells, shards, fingerprints, reports, and the sprite
measurements of the app.

The end-to-end run is tiny (10 steps, batch 8, a few dozen metric votes): it checks the plumbing, not the
paper's numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bngan.experiments.core import Cell, ExperimentError, in_shard, parse_shard
from bngan.experiments.disentangle import cells as runner
from bngan.experiments.disentangle import report, sprites
from bngan.experiments.disentangle import settings as dx
from bngan.experiments.disentangle.cli import main as cli_main

TINY = ["--steps", "10", "--batch-size", "8", "--n-per-class", "200", "--num-train", "30", "--num-eval", "20",
        "--metric-batch", "8", "--seeds", "1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """2 IRs x 2 methods x 1 seed, trained and scored once for the module."""
    import contextlib
    import io

    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("disentangle")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli_main(["--ir", "100", "200", *TINY, "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_runner_writes_every_report(tiny_run: tuple[Path, str]) -> None:
    out, printed = tiny_run
    names = sorted(p.stem for p in (out / "cells").glob("*.json"))
    assert names == ["bngan-ir100-seed0", "bngan-ir200-seed0", "infogan-ir100-seed0", "infogan-ir200-seed0"]
    assert sorted(p.stem for p in (out / "checkpoints").glob("*.pt")) == names
    for name in ("results.json", "results.csv", "summary.csv", "table.md", "figure.html"):
        assert (out / name).is_file(), name
    cell = json.loads((out / "cells" / "bngan-ir200-seed0.json").read_text())
    assert cell["reg_mode"] == "paper" and cell["steps"] == 10
    assert cell["train_counts"] == {"square": 200, "ellipse": 200, "heart": 1}  # 200 / IR 200
    assert 0.0 <= cell["factorvae"] <= 1.0 and 0.0 <= cell["mig"] <= 1.0
    assert np.asarray(cell["code_factor_nmi"]).shape == (5, 5)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 4 and all(0.0 <= float(r["factorvae"]) <= 1.0 for r in rows)
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert [(r["method"], r["ir"]) for r in summary] == [("infogan", 100.0), ("infogan", 200.0),
                                                        ("bngan", 100.0), ("bngan", 200.0)]
    table = (out / "table.md").read_text()
    assert "0.525" in table and "0.479" in table  # the paper's numbers beside ours
    assert "| InfoGAN | 100 |" in printed and "table.md" in printed
    figure = (out / "figure.html").read_text()
    assert '<script charset="utf-8" src="../plotly-' in figure  # one shared plotly.js beside the run folder
    assert len(list(out.parent.glob("plotly-*.min.js"))) == 1 and len(figure) < 100_000


def test_rerun_skips_finished_cells(tiny_run: tuple[Path, str], capsys: pytest.CaptureFixture) -> None:
    out, _ = tiny_run
    assert cli_main(["--ir", "100", "200", *TINY, "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("done already") == 4


def test_checkpoint_loads_and_codes_are_measured(tiny_run: tuple[Path, str]) -> None:
    from bngan.training import TrainedModel

    model = TrainedModel.load(tiny_run[0] / "checkpoints" / "bngan-ir100-seed0.pt")
    assert model.structure.k == 5 and model.class_names == ["square", "ellipse", "heart"]
    rows = sprites.code_tracking(model, label=2, steps=3, seeds=1)
    assert [r["code"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(0.0 <= r[m] <= 1.0 for r in rows for m in sprites.MEASURED)
    assert all(r["tracks"] in (*sprites.MEASURED, "–") and 0.0 <= r["binary"] <= 1.0 for r in rows)


def fake_compute(cell: Cell, settings: dx.DisentangleSettings, out: Path, stage=None) -> dict:
    """A cell result without training, to test the scheduling alone."""
    return {"method": cell["method"], "ir": cell["ir"], "seed": cell["seed"],
            "factorvae": 0.5 + 0.1 * cell["seed"] + settings.steps / 1e6, "mig": 0.1, "train_s": 0.0,
            "score_s": 0.0, "device": "cpu", "settings": settings.cell_settings()}


def test_shard_runs_every_nth_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "compute_cell", fake_compute)
    settings = dx.DisentangleSettings(irs=[100, 200, 300], seeds=[0, 1])
    cells = dx.grid(settings)
    expected = {c.key for c in in_shard(cells, (1, 4))}
    argv = ["--ir", "100", "200", "300", "--seeds", "2", "--shard", "1/4", "--out", str(tmp_path)]
    assert cli_main(argv) == 0
    assert {p.stem for p in (tmp_path / "cells").glob("*.json")} == expected and len(expected) == 3
    shards = [in_shard(cells, (i, 4)) for i in range(4)]
    assert sorted(c.key for s in shards for c in s) == sorted(c.key for c in cells)  # a partition
    results = report.collect(tmp_path)
    assert all(r["seeds"] == 1 for r in results["summary"]) and len(results["missing"]) == 9


def test_a_rerun_with_other_settings_is_not_mixed_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """Cells of another --steps are redone, not reused, and never averaged into the new summary."""
    monkeypatch.setattr(runner, "compute_cell", fake_compute)
    argv = ["--ir", "100", "--methods", "bngan", "--seeds", "2", "--out", str(tmp_path)]
    assert cli_main([*argv, "--steps", "100"]) == 0
    first = report.collect(tmp_path)["cells"]
    assert cli_main([*argv, "--steps", "200", "--shard", "0/2"]) == 0  # only seed 0 is redone
    results = report.collect(tmp_path)
    assert results["stale"] == ["bngan-ir100-seed1"] and [c["cell"] for c in results["cells"]] == [
        "bngan-ir100-seed0"]
    assert results["cells"][0]["factorvae"] == pytest.approx(first[0]["factorvae"] + 100 / 1e6)
    assert "left out, computed under other settings: bngan-ir100-seed1" in capsys.readouterr().out
    assert json.loads((tmp_path / "results.json").read_text())["summary"][0]["seeds"] == 1
    assert cli_main([*argv, "--steps", "200"]) == 0  # the rest of the new run: the stale cell is redone
    assert capsys.readouterr().out.count("done already") == 1 and report.collect(tmp_path)["complete"]


def test_summary_mean_and_std_over_seeds() -> None:
    cells = [{"method": "bngan", "ir": 100, "seed": s, "factorvae": v, "mig": 0.2}
             for s, v in enumerate([0.5, 0.7])]
    cells.append({"method": "infogan", "ir": 100, "seed": 0, "factorvae": 0.4, "mig": 0.1})
    summary = report.summarise(cells)
    assert [r["method"] for r in summary] == ["infogan", "bngan"]
    assert summary[1]["factorvae_mean"] == pytest.approx(0.6)
    assert summary[1]["factorvae_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summary[1]["paper_factorvae"] == 0.585
    assert "0.600 ± 0.141" in report.markdown_table(summary)


def test_argument_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "a/b", "1"):
        with pytest.raises(ExperimentError):
            parse_shard(bad)
    with pytest.raises(ExperimentError, match="n-per-class >= 300"):
        dx.DisentangleSettings(irs=[100, 300], n_per_class=200)
    with pytest.raises(ExperimentError, match="methods"):
        dx.DisentangleSettings(methods=["infogan", "dgc"])
    with pytest.raises(ExperimentError, match="num_eval"):
        dx.DisentangleSettings(num_eval=0)
    assert dx.cell_name("bngan", 100.0, 0) == "bngan-ir100-seed0"
    for argv in (["--methods", "infogan,dgc"], ["--shard", "4/4"], ["--device", "tpu"]):
        assert cli_main([*argv, "--out", str(tmp_path)]) == 2  # refused before anything trains
        assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "cells").exists()


def test_methods_differ_only_in_the_regulariser() -> None:
    settings = dx.DisentangleSettings(bngan_mode="gaussian", irs=[200], seeds=[1])
    configs = {c["method"]: runner.train_config(c, settings) for c in dx.grid(settings)}
    ours, infogan = configs["bngan"], configs["infogan"]
    assert (ours.reg_mode, infogan.reg_mode) == ("gaussian", "infogan")
    assert ours.replace(reg_mode="infogan") == infogan
    assert ours.imbalance == {"profile": "minority", "minority_classes": [2], "ir": 200.0, "counts": None}
    assert ours.structure_obj().k == 5 and len(ours.structure_obj().edges) == 5  # c_i -> c_i' only


def test_sprite_attributes_read_back_the_rendered_factors() -> None:
    from bngan.data.dsprites import factor_values, render, sample_factors

    factors = sample_factors(600, np.random.default_rng(0))
    measured = sprites.sprite_attributes(render(factors).float(), factors[:, 0])
    truth = factor_values(factors)
    for name, column in (("scale", 1), ("x", 3), ("y", 4)):
        assert np.corrcoef(measured[name], truth[:, column])[0, 1] > 0.99, name
    ellipse = factors[:, 0] == 1
    error = (measured["orientation"][ellipse] - np.degrees(truth[ellipse, 2]) + 90) % 180 - 90
    assert np.median(np.abs(error)) < 3.0
    strength = sprites.association(truth[:, 3], measured)
    assert max(strength, key=strength.get) == "x" and strength["x"] > 0.99


def test_effect_sizes_say_how_far_a_sweep_moves_each_factor() -> None:
    from bngan.data.dsprites import render

    steps = np.arange(8)
    x_sweep = np.array([[2, 5, 3, 4 * i, y] for y in (5, 20) for i in steps])  # x over its range, 2 draws
    moves = sprites.effect_sizes(np.tile(steps, 2).astype(float),
                                 sprites.sprite_attributes(render(x_sweep).float(), 2))
    assert moves["x"] == pytest.approx(28 / 31) and moves["y"] < 1e-9 and moves["scale"] < 1e-9
    turn = np.array([[1, 5, o, 16, 16] for o in range(0, 20, 2)])  # an ellipse turning 162°
    moves = sprites.effect_sizes(np.arange(10.0), sprites.sprite_attributes(render(turn).float(), 1))
    assert moves["orientation"] == pytest.approx(162 / 180, abs=0.03) and moves["x"] < 1e-9
    assert sprites.binary_share(render(turn).float()) == 1.0
