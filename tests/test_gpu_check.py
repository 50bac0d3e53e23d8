"""``bench gpu-check`` without a GPU: it says so and exits 0 (or 3 when a GPU is required); on the CPU it runs
the same paths, reports each as PASS or FAIL and goes on after a failure. The CUDA run itself needs a GPU."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from bngan.bench import gpu_check
from bngan.bench import main as bench_main


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_without_cuda_it_says_so_and_exits_0(no_cuda, capsys) -> None:
    assert bench_main(["gpu-check"]) == 0
    out = capsys.readouterr().out
    assert "no CUDA device here" in out and "nothing to check" in out and "PASS" not in out


def test_without_cuda_a_required_gpu_is_exit_3(no_cuda, capsys) -> None:
    assert gpu_check.main(["--require-gpu"]) == gpu_check.EXIT_NO_GPU == 3
    assert "no CUDA device here" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "needle"), [(["--only", "train,warp"], "warp"), (["--only", ","], "(none)"),
                                              (["--steps", "1"], "--steps")])
def test_bad_options_are_one_line_and_exit_2(argv: list[str], needle: str, capsys) -> None:
    assert gpu_check.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_every_path_is_listed_in_the_bench_menu() -> None:
    from bngan.bench import COMMANDS, usage

    assert "gpu-check" in COMMANDS and "gpu-check" in usage()
    assert list(gpu_check.PATHS) == ["train", "resume", "sample", "traverse", "oversampler", "dgc", "table1"]


def test_a_failing_path_is_reported_and_the_others_still_run(tmp_path: Path, monkeypatch) -> None:
    def broken(ctx) -> str:
        raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore")

    monkeypatch.setitem(gpu_check.PATHS, "train", broken)
    monkeypatch.setitem(gpu_check.PATHS, "dgc", lambda ctx: "fine")
    out = io.StringIO()
    results = gpu_check.run_checks(gpu_check.Context("cpu", tmp_path, 4), ["train", "sample", "dgc"], out=out)
    lines = out.getvalue().splitlines()
    assert results == {"train": False, "sample": False, "dgc": True}
    assert lines[0].startswith("FAIL  train") and "illegal memory access" in lines[0] and "more" not in lines[0]
    assert lines[1].startswith("FAIL  sample") and "no checkpoint" in lines[1]
    assert lines[2].startswith("PASS  dgc")


def test_the_paths_pass_on_the_cpu(no_cuda, tmp_path: Path, capsys) -> None:
    code = gpu_check.main(["--device", "cpu", "--steps", "4", "--only", "train,resume,sample,traverse,oversampler",
                           "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("PASS") == 5 and "5/5 paths passed" in out
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
