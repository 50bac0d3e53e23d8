"""The command line as a user runs it: subprocesses, exit codes, files written, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bngan.cli import main
from bngan.config import TrainConfig
from bngan.structure import LatentStructure

ROOT = Path(__file__).resolve().parents[1]


def bngan(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "bngan", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "demo"
    done = bngan("train", "--dataset", "digits", "--structure", "entangled", "--steps", "6", "--sample-every",
                 "3", "--batch-size", "16", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_train_writes_a_run_folder(run_dir):
    assert (run_dir / "checkpoint.pt").is_file()
    assert json.loads((run_dir / "config.json").read_text())["structure"]["k"] == 3
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6 and "g_adv" in json.loads(lines[-1])
    assert (run_dir / "samples_000003.png").is_file() and (run_dir / "samples_final.png").is_file()


def test_resume_continues_the_step_count(run_dir, tmp_path):
    done = bngan("train", "--resume", str(run_dir / "checkpoint.pt"), "--steps", "8", "--out", str(tmp_path),
                 "--quiet")
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [7, 8]


def test_sample_png_and_npz(run_dir, tmp_path):
    assert bngan("sample", "--checkpoint", str(run_dir / "checkpoint.pt"), "--label", "9", "--n", "16",
                 "--out", str(tmp_path / "grid.png")).returncode == 0
    assert (tmp_path / "grid.png").stat().st_size > 100
    assert bngan("sample", "--checkpoint", str(run_dir / "checkpoint.pt"), "--label", "9", "--n", "5",
                 "--out", str(tmp_path / "s.npz")).returncode == 0
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (5, 1, 28, 28) and set(data["labels"]) == {9}


def test_traverse_strip_and_grid(run_dir, tmp_path):
    for extra in ([], ["--code2", "2"]):
        done = bngan("traverse", "--checkpoint", str(run_dir / "checkpoint.pt"), "--code", "1", *extra,
                     "--out", str(tmp_path / "t.png"))
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["train", "--dataset", "mnist", "--data-dir", "/nonexistent", "--out", "{tmp}/x"], "BNGAN_DATA_DIR"),
    (["train", "--lambda-reg", "-3", "--out", "{tmp}/x"], "lambda_reg"),
    (["train", "--structure", "{tmp}/cyclic.json", "--out", "{tmp}/x"], "cycle"),
    (["sample", "--checkpoint", "{tmp}/corrupt.pt", "--label", "1", "--out", "{tmp}/g.png"], "checkpoint"),
    (["sample", "--checkpoint", "{run}/checkpoint.pt", "--label", "12", "--out", "{tmp}/g.png"], "--label"),
    (["traverse", "--checkpoint", "{run}/checkpoint.pt", "--code", "9", "--out", "{tmp}/t.png"], "code must"),
])
def test_bad_input_gives_one_line_and_exit_code_2(args, needle, tmp_path, run_dir, capsys):
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "cyclic.json").write_text(json.dumps(
        {"k": 2, "edges": [["c1", "c1'"], ["c2", "c2'"], ["c1'", "c2'"], ["c2'", "c1'"]]}))
    assert main([a.format(tmp=tmp_path, run=run_dir) for a in args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_command_line_is_one_error_too():
    done = bngan("train", "--dataset", "mnist", "--data-dir", "/nonexistent", "--out", "/tmp/never")
    assert done.returncode == 2 and done.stderr.startswith("bngan: error:") and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["train", "sample", "traverse"])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "usage" in capsys.readouterr().out


def test_bench_lists_its_benchmarks(capsys):
    assert main(["bench", "--help"]) == 0
    assert "speed" in capsys.readouterr().out


def test_label_names_codes_and_keeps_the_weights(run_dir, tmp_path, capsys):
    import shutil

    import torch

    from bngan.training import TrainedModel

    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    path = folder / "checkpoint.pt"
    before = TrainedModel.load(path)
    assert main(["label", "--checkpoint", str(path), "--labels", "1=thickness,3=both"]) == 0
    after = TrainedModel.load(path)
    assert after.structure.labels == {1: "thickness", 3: "both"} and after.config.structure_obj().label(3) == "both"
    # the run folder's own files follow, so the folder stays one consistent run
    assert TrainConfig.from_dict(json.loads((folder / "config.json").read_text())).structure_obj().labels \
        == after.structure.labels
    assert LatentStructure.from_json((folder / "structure.json").read_text()).labels == after.structure.labels
    elsewhere = tmp_path / "elsewhere"  # beside another drawing's files: those are left alone
    elsewhere.mkdir()
    shutil.copy(path, elsewhere / "checkpoint.pt")
    foreign = TrainConfig(dataset="digits", structure=LatentStructure.preset("disentangled", 2).to_dict()).to_json()
    (elsewhere / "config.json").write_text(foreign)
    assert main(["label", "--checkpoint", str(elsewhere / "checkpoint.pt"), "--labels", "2=x"]) == 0
    assert (elsewhere / "config.json").read_text() == foreign
    for a, b in zip(before.generator.state_dict().values(), after.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert main(["label", "--checkpoint", str(path), "--labels", "9=x"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_a_bug_keeps_its_traceback_while_bad_input_gets_one_line(monkeypatch, capsys):
    """Only bngan's own errors (and file errors) become one line; any other exception is a bug and propagates."""
    import pytest

    from bngan import cli
    from bngan.errors import InvalidSettingError

    def bad_input():
        raise InvalidSettingError("--span must be finite")

    def bug():
        raise ValueError("an internal shape mismatch")

    assert cli.run_guarded(bad_input) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "bngan: error: --span must be finite"
    with pytest.raises(ValueError, match="internal"):
        cli.run_guarded(bug)
