"""bench structure: cells per (variant, seed) that are reused while their settings hold, and a report."""

from __future__ import annotations

import json

from bngan.bench import structure as bench


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


def test_a_run_with_other_settings_is_not_reused(tmp_path):
    wanted = bench.Settings(dataset="digits", imbalance="none", steps=6).train_config("infogan", 0).to_dict()
    assert bench.same_training({**wanted, "sample_every": 1, "device": "cuda"}, wanted)
    assert not bench.same_training({**wanted, "reg_mode": "paper"}, wanted)
    assert not bench.same_training({**wanted, "seed": 1}, wanted)
