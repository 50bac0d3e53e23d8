"""bench structure: cells per (variant, seed) that are reused while their settings hold, and a report."""

from __future__ import annotations

import json

from bngan.experiments import structure as bench


def test_cells_are_resumable_and_refreshed_when_settings_change(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    settings = bench.Settings(dataset="digits", imbalance="none", steps=6, effect_seeds=2)
    cells = bench.run(settings, ["disentangled", "entangled"], [0], runs, out)
    assert sorted(c["variant"] for c in cells) == ["disentangled", "entangled"]
    entangled = next(c for c in cells if c["variant"] == "entangled")
    assert entangled["step"] == 6 and len(entangled["crosstalk"]) == 3
    assert entangled["own"] == entangled["entangled"]  # its own drawing is the entangled one
    assert [c["parents"] for c in entangled["own"]["per_code"]] == [[], [], [1, 2]]
    files = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}

    again = bench.run(settings, ["disentangled", "entangled"], [0], runs, out)  # nothing to do
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == files
    assert [c["fingerprint"] for c in again] == [c["fingerprint"] for c in cells]

    finer = bench.Settings(dataset="digits", imbalance="none", steps=6, effect_seeds=3)
    refreshed = bench.run(finer, ["entangled"], [0], runs, out)  # the model is reused, the cell recomputed
    assert [c["variant"] for c in refreshed] == ["entangled"]
    assert (out / "cells" / "entangled-s0.json").stat().st_mtime_ns != files["entangled-s0.json"]

    summary = bench.summarise(cells)
    assert set(summary) == {"disentangled", "entangled"}
    text = bench.write_report(out, summary, None)
    assert "| entangled | 1 |" in text and json.loads((out / "summary.json").read_text())["summary"]
    assert bench.is_experiment_folder(out)
    found = bench.collect(out)  # the finer settings of the last run are the folder's now
    assert found["n_done"] == 1 and found["stale"] == ["disentangled-s0"] and not found["complete"]


def test_a_run_with_other_settings_is_not_reused(tmp_path):
    wanted = bench.Settings(dataset="digits", imbalance="none", steps=6).train_config("infogan", 0).to_dict()
    assert bench.same_training({**wanted, "sample_every": 1, "device": "cuda"}, wanted)
    assert not bench.same_training({**wanted, "reg_mode": "paper"}, wanted)
    assert not bench.same_training({**wanted, "seed": 1}, wanted)
    standard = bench.Settings().train_config("entangled", 0).to_dict()
    from_cli = {**standard, "imbalance": {**standard["imbalance"], "ir": 10.0}}  # the CLI's recorded defaults
    assert bench.same_training(from_cli, standard)
    assert not bench.same_training({**from_cli, "imbalance": {"profile": "minority", "ir": 10.0}}, standard)


def test_a_folder_with_another_run_is_refused_and_left_alone(tmp_path):
    import pytest

    from bngan.errors import InvalidSettingError

    settings = bench.Settings(dataset="digits", imbalance="none", steps=4, effect_seeds=2)
    bench.trained_model(settings, "entangled", 0, tmp_path)
    checkpoint = tmp_path / "entangled-s0" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    other = bench.Settings(dataset="digits", imbalance="none", steps=4, k=4)
    with pytest.raises(InvalidSettingError, match="other settings"):
        bench.trained_model(other, "entangled", 0, tmp_path)
    assert checkpoint.read_bytes() == before
    longer = bench.Settings(dataset="digits", imbalance="none", steps=6)
    assert bench.trained_model(longer, "entangled", 0, tmp_path).step == 6  # an unfinished run is resumed
    with pytest.raises(InvalidSettingError, match="other settings"):  # a longer run never answers for a shorter
        bench.trained_model(settings, "entangled", 0, tmp_path)
