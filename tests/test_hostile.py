"""The hostile-input corpus (issue #14): every bad structure, setting, command line, checkpoint, image folder
and library input an adversarial user tried gets one clear line (the CLI: ``bngan: error: ...``, exit 2; the
library: a ValueError naming the fix), never a traceback and never a silently wrong result.

Each case states the input and a phrase its message must contain; a message must be one line without
torch's or Python's internals in it. The checkpoint cases are loaded both for inference
(``TrainedModel.load``, what ``sample``, ``traverse`` and the pages do) and for training (``Trainer.resume``).
"""

from __future__ import annotations

import copy
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from bngan.checkpoint import CheckpointError, load_checkpoint
from bngan.cli import main
from bngan.config import ConfigError, TrainConfig
from bngan.data import DataError, ImageDataset, load_dataset
from bngan.errors import InvalidSettingError
from bngan.sampler import BNGANOversampler
from bngan.structure import LatentStructure, StructureError
from bngan.training import TrainedModel, Trainer
from bngan.traversal import code_values, strip

INTERNALS = ("Traceback", "weights_only", "torch.load", "KeyError", "Unpickler", "site-packages", "size mismatch")


def clear(message: str) -> str:
    """The message, after checking it is one clear line."""
    assert "\n" not in message.strip(), message
    assert not any(word in message for word in INTERNALS), message
    assert len(message) < 700, message
    return message


# structures -----------------------------------------------------------------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _k_digits(n: int) -> str:
    return '{"k": ' + "9" * n + ', "edges": []}'


STRUCTURES: list[tuple[str, str]] = [
    ('{"k":1,"edges":[["c01","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c1","c01\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c1","c1\'\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c\u0661","c1\'"]]}', "unknown node"),  # an Arabic-Indic digit one
    ('{"k":1,"edges":[["C1","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c0","c1\'"]]}', "unknown node"),
    ('{"k":2,"edges":[["c3","c1\'"],["c2","c2\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c-1","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c1.0","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c+1","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c 1","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["","c1\'"]]}', "unknown node"),
    ('{"k":1,"edges":[["c1","' + "x" * 5000 + '"]]}', "unknown node"),
    ('{"k":1,"edges":[[null,"c1\'"]]}', "pairs of node names"),
    ('{"k":1,"edges":[[1,2]]}', "pairs of node names"),
    ('{"k":1,"edges":[[["c1"],"c1\'"]]}', "pairs of node names"),
    ('{"k":1,"edges":[{"c1":"c1\'"}]}', "pairs"),
    ('{"k":1,"edges":[["c1","c1\'","c1"]]}', "pairs"),
    ('{"k":1,"edges":[["c1"]]}', "pairs"),
    ('{"k":1,"edges":"c1->c1\'"}', "list of [parent, child]"),
    ('{"k":1,"edges":{"c1":"c1\'"}}', "list of [parent, child]"),
    ('{"k":1,"edges":null}', "list of [parent, child]"),
    ('{"k":true,"edges":[["c1","c1\'"]]}', "k must be an integer"),
    ('{"k":false,"edges":[]}', "k must be an integer"),
    ('{"k":1.0,"edges":[["c1","c1\'"]]}', "k must be an integer"),
    ('{"k":"3","edges":[]}', "k must be an integer"),
    ('{"k":null,"edges":[]}', "k must be an integer"),
    ('{"k":-1,"edges":[]}', "k must be an integer"),
    ('{"k":0,"edges":[]}', "k must be an integer"),
    ('{"k":17,"edges":[]}', "k must be an integer"),
    ('{"k":1e400,"edges":[]}', "k must be an integer"),
    ('{"k":NaN,"edges":[]}', "k must be an integer"),
    (_k_digits(5000), "not valid JSON"),
    (_k_digits(4000), "k must be an integer"),
    (_nested(200_000), "nested too deeply"),
    (_nested(60_000), "nested too deeply"),
    ('{"k":1,"edges":' + json.dumps([["c1", "c1'"]] * 2_000_000) + "}", "at most"),
    ('{"k":2,"edges":' + json.dumps([["c1", "c1'"]] * 7) + "}", "at most 6"),
    ('{"k":1,"edges":[["c1","c1\'"]]} trailing', "not valid JSON"),
    ("", "not valid JSON"),
    ("null", "needs the keys"),
    ("[]", "needs the keys"),
    ("123", "needs the keys"),
    ('"structure"', "needs the keys"),
    ('{"edges":[]}', "needs the keys"),
    ('{"k":1}', "needs the keys"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":["a"]}', "'labels' must map"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":{"x":"a"}}', "keys must be code numbers"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":{"1.5":"a"}}', "keys must be code numbers"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":{"1":{"a":1}}}', "values must be names"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":{"1":"' + "a" * 300 + '"}}', "values must be names"),
    ('{"k":1,"edges":[["c1","c1\'"]],"labels":{"9":"a"}}', "out of range"),
    ('{"k":1,"edges":[["c1\'","c1\'"]]}', "self-loop"),
    ('{"k":2,"edges":[["c1","c1\'"],["c1","c1\'"],["c2","c2\'"]]}', "duplicate edge"),
    ('{"k":2,"edges":[["c1","c1\'"],["c2","c2\'"],["c1\'","c2\'"],["c2\'","c1\'"]]}', "cycle"),
    ('{"k":1,"edges":[["c1\'","c1"]]}', "points into the observed code"),
    ('{"k":2,"edges":[["c1","c1\'"]]}', "no parent"),
]


@pytest.mark.parametrize(("text", "needle"), STRUCTURES, ids=[f"structure-{i}" for i in range(len(STRUCTURES))])
def test_hostile_structure_json(text: str, needle: str) -> None:
    with pytest.raises(StructureError) as info:
        LatentStructure.from_json(text)
    assert needle in clear(str(info.value))


@pytest.mark.parametrize(("raw", "needle"), [
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b'{"k": 1, "edges": [["c1", "c1\'"]]}\x00', "not valid JSON"),
    ([["c1", "c1'"]], "JSON text or a dict"),
    (42, "JSON text or a dict"),
])
def test_hostile_structure_objects(raw: object, needle: str) -> None:
    with pytest.raises(StructureError) as info:
        LatentStructure.from_json(raw)  # type: ignore[arg-type]
    assert needle in clear(str(info.value))


def test_two_million_duplicate_edges_are_refused_at_once() -> None:
    import time

    edges = [("c1", "c1'")] * 2_000_000
    began = time.perf_counter()
    with pytest.raises(StructureError, match="at most"):
        LatentStructure(k=1, edges=edges)
    assert time.perf_counter() - began < 2.0


def test_the_structure_page_import_refuses_deep_nesting_under_its_size_limit() -> None:
    from bngan.ui.state import MAX_IMPORT_BYTES, parse_structure_upload

    raw = _nested(MAX_IMPORT_BYTES // 2 - 10).encode()
    with pytest.raises(StructureError, match="nested too deeply"):
        parse_structure_upload(raw)
    with pytest.raises(StructureError, match="k must be an integer"):
        parse_structure_upload(_k_digits(4000).encode())


# settings -------------------------------------------------------------------------------------------------
CONFIGS: list[tuple[dict, str]] = [
    ({"steps": 0}, "steps"), ({"steps": -1}, "steps"), ({"steps": True}, "steps"), ({"steps": 1.5}, "steps"),
    ({"steps": "10"}, "steps"), ({"steps": None}, "at least one"), ({"steps": 10**12}, "steps"),
    ({"steps": None, "epochs": float("nan")}, "epochs"), ({"steps": None, "epochs": float("inf")}, "epochs"),
    ({"steps": None, "epochs": 0}, "epochs"), ({"steps": None, "time_budget_s": -1}, "time_budget_s"),
    ({"steps": None, "time_budget_s": float("nan")}, "time_budget_s"),
    ({"lambda_reg": float("nan")}, "lambda_reg"), ({"lambda_reg": float("inf")}, "lambda_reg"),
    ({"lambda_reg": "0.1"}, "lambda_reg"), ({"batch_size": 1}, "batch_size"), ({"batch_size": 10**6}, "batch_size"),
    ({"batch_size": True}, "batch_size"), ({"batch_size": 16.5}, "batch_size"), ({"lr_g": 0}, "lr_g"),
    ({"lr_d": "fast"}, "lr_d"), ({"seed": -1}, "seed"), ({"seed": 2**64}, "seed"), ({"seed": True}, "seed"),
    ({"seed": 1.5}, "seed"), ({"seed": "0"}, "seed"), ({"z_dim": 0}, "z_dim"), ({"image_size": 30}, "multiple of 4"),
    ({"image_size": 4}, "image_size"), ({"image_size": 1000}, "image_size"), ({"dataset": "cifar"}, "dataset"),
    ({"device": "tpu"}, "device"), ({"preset": "huge"}, "preset"), ({"reg_mode": "magic"}, "reg_mode"),
    ({"adv_loss": "wasserstein"}, "adv_loss"), ({"ema_decay": 0.1}, "ema_decay"), ({"lecam": -1}, "lecam"),
    ({"sample_every": 0}, "sample_every"), ({"checkpoint_every": 0}, "checkpoint_every"),
    ({"imbalance": {"profile": "minority", "ir": 0.5}}, "imbalance ratio"),
    ({"imbalance": {"profile": "bogus"}}, "imbalance profile"),
    ({"structure": {"k": 1, "edges": [["c01", "c1'"]]}}, "unknown node"),
    ({"structure": {"k": True, "edges": [["c1", "c1'"]]}}, "k must be an integer"),
]


@pytest.mark.parametrize(("change", "needle"), CONFIGS, ids=[f"config-{i}" for i in range(len(CONFIGS))])
def test_hostile_settings(change: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**change)
    assert needle in clear(str(info.value))


def test_unknown_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainConfig.from_dict({"steps": 3, "evil": 1})


# a trained checkpoint to damage -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A 2-step digits run with EMA and LeCam (so the optional keys are present)."""
    folder = tmp_path_factory.mktemp("hostile")
    torch.manual_seed(0)
    config = TrainConfig(dataset="digits", steps=2, batch_size=16, sample_every=100, z_dim=8, device="cpu",
                         ema_decay=0.9, lecam=0.1)
    Trainer(config).run(checkpoint_path=folder / "checkpoint.pt")
    return folder / "checkpoint.pt"


@pytest.fixture(scope="module")
def good(run: Path) -> dict:
    return torch.load(run, weights_only=True)


def _set(data: dict, key: str, value: object) -> None:
    data[key] = value


def _json_edit(key: str, edit: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        value = json.loads(data[key])
        edit(value)
        data[key] = json.dumps(value)
    return change


def _first(data: dict, part: str) -> str:
    return next(iter(data[part]))


EDITS: dict[str, tuple[Callable[[dict], None], str]] = {
    "nan-generator": (lambda d: d["generator"][_first(d, "generator")].fill_(float("nan")), "NaN or infinite"),
    "inf-discriminator": (lambda d: d["discriminator"][_first(d, "discriminator")].fill_(float("inf")),
                          "NaN or infinite"),
    "nan-live": (lambda d: d["generator_live"][_first(d, "generator_live")].fill_(float("nan")), "NaN"),
    "nan-optimiser": (lambda d: next(iter(d["opt_g"]["state"].values()))["exp_avg"].fill_(float("nan")),
                      "NaN or infinite"),
    "step-text": (lambda d: _set(d, "step", "abc"), "'step' must be a whole number"),
    "step-negative": (lambda d: _set(d, "step", -5), "'step'"),
    "step-float": (lambda d: _set(d, "step", 1.5), "'step'"),
    "step-bool": (lambda d: _set(d, "step", True), "'step'"),
    "elapsed-text": (lambda d: _set(d, "elapsed_s", "x"), "'elapsed_s'"),
    "elapsed-nan": (lambda d: _set(d, "elapsed_s", float("nan")), "'elapsed_s'"),
    "rng-list": (lambda d: _set(d, "rng", [1, 2, 3]), "'rng'"),
    "rng-floats": (lambda d: _set(d, "rng", torch.zeros(4)), "'rng'"),
    "config-not-json": (lambda d: _set(d, "config", "{oops"), "not valid JSON"),
    "config-dict": (lambda d: _set(d, "config", {"steps": 3}), "'config' must be JSON text"),
    "config-invalid": (_json_edit("config", lambda c: c.update(lambda_reg=-4)), "lambda_reg"),
    "config-unknown-key": (_json_edit("config", lambda c: c.update(evil=1)), "unknown setting"),
    "config-list": (lambda d: _set(d, "config", "[1, 2]"), "JSON objects"),
    "model-code-dim": (_json_edit("model", lambda m: m.update(code_dim=5)), "k = 3"),
    "model-type": (_json_edit("model", lambda m: m.update(image_size="28")), "not a int"),
    "model-unknown": (_json_edit("model", lambda m: m.update(evil=1)), "model description is invalid"),
    "model-size": (_json_edit("model", lambda m: m.update(image_size=30)), "model description is invalid"),
    "structure-k": (lambda d: _set(d, "structure", LatentStructure.preset("disentangled", 4).to_json()), "k = 4"),
    "structure-c01": (_json_edit("structure", lambda s: s["edges"].append(["c01", "c1'"])), "unknown node"),
    "structure-bool-k": (_json_edit("structure", lambda s: s.update(k=True)), "k must be an integer"),
    "structure-missing": (lambda d: d.pop("structure"), "lacks 'structure'"),
    "class-names-short": (lambda d: _set(d, "class_names", json.dumps(["a"])), "'class_names'"),
    "class-names-type": (lambda d: _set(d, "class_names", json.dumps({"a": 1})), "'class_names'"),
    "class-counts-type": (lambda d: _set(d, "class_counts", json.dumps([1, 2])), "'class_counts'"),
    "generator-missing-key": (lambda d: d["generator"].pop(_first(d, "generator")), "lacks"),
    "generator-extra-key": (lambda d: d["generator"].__setitem__("evil.weight", torch.zeros(1)), "unknown weight"),
    "generator-shape": (lambda d: d["generator"].__setitem__(_first(d, "generator"), torch.zeros(3, 3)),
                        "needs"),
    "generator-int": (lambda d: d["generator"].__setitem__(_first(d, "generator"), 7), "tensors"),
    "generator-empty": (lambda d: _set(d, "generator", {}), "non-empty table"),
    "discriminator-list": (lambda d: _set(d, "discriminator", [torch.zeros(1)]), "non-empty table"),
    "generator-missing": (lambda d: d.pop("generator"), "lacks generator"),
    "format": (lambda d: _set(d, "format", "other"), "not a bngan checkpoint"),
    "version": (lambda d: _set(d, "version", 2), "version 2"),
    "opt-g-only": (lambda d: d.pop("opt_d"), "only one of the two optimiser states"),
    "opt-not-dict": (lambda d: _set(d, "opt_g", [1]), "not an optimiser state"),
    "ema-updates-text": (lambda d: _set(d, "ema_updates", "x"), "'ema_updates'"),
    "lecam-text": (lambda d: _set(d, "lecam", "x"), "'lecam'"),
    "lecam-nan": (lambda d: _set(d, "lecam", {"ema_real": float("nan"), "ema_fake": 0.0}), "'lecam'"),
}
RESUME_ONLY = {  # harmless for inference, fatal for training
    "opt-of-another-model": (lambda d: _set(d, "opt_g", d["opt_d"]), "optimiser of another model"),
    "opt-wrong-shape": (lambda d: next(iter(d["opt_d"]["state"].values())).__setitem__("exp_avg", torch.zeros(2)),
                        "optimiser of another model"),
    "rng-missing": (lambda d: d.pop("rng"), "lacks 'rng'"),
    "rng-short": (lambda d: _set(d, "rng", torch.zeros(4, dtype=torch.uint8)), "does not match"),
}
LOADERS = {"load": lambda p: TrainedModel.load(p), "resume": lambda p: Trainer.resume(p, steps=4)}


def _damaged(good: dict, edit: Callable[[dict], None], path: Path) -> Path:
    data = copy.deepcopy(good)
    edit(data)
    torch.save(data, path)
    return path


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize("case", list(EDITS))
def test_hand_edited_checkpoints(case: str, loader: str, good: dict, tmp_path: Path) -> None:
    edit, needle = EDITS[case]
    path = _damaged(good, edit, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError) as info:
        LOADERS[loader](path)
    assert needle in clear(str(info.value))


@pytest.mark.parametrize("case", list(RESUME_ONLY))
def test_checkpoints_that_cannot_be_resumed(case: str, good: dict, tmp_path: Path) -> None:
    edit, needle = RESUME_ONLY[case]
    path = _damaged(good, edit, tmp_path / "edited.pt")
    TrainedModel.load(path)  # inference needs neither the optimisers nor the random state
    with pytest.raises(CheckpointError) as info:
        Trainer.resume(path, steps=4)
    assert needle in clear(str(info.value))


def _flip_inside_largest_tensor(raw: bytes, n: int = 64) -> bytes:
    with zipfile.ZipFile(__import__("io").BytesIO(raw)) as archive:
        info = max(archive.infolist(), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    return raw[:start] + bytes(b ^ 0xFF for b in raw[start:start + n]) + raw[start + n:]


class Evil:
    """A pickled object that would run code when loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _files(run: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    raw = run.read_bytes()
    made = {
        "flipped-weights": (_flip_inside_largest_tensor(raw), "CRC"),
        "truncated": (raw[: len(raw) // 2], "checkpoint"),
        "empty": (b"", "not a readable bngan checkpoint"),
        "random": (np.random.default_rng(0).bytes(4096), "not a readable bngan checkpoint"),
        "text": (b"hello", "not a readable bngan checkpoint"),
        "zip-of-text": (None, "not a readable bngan checkpoint"),
    }
    out = {}
    for name, (content, needle) in made.items():
        path = tmp / f"{name}.pt"
        if content is None:
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("readme.txt", "not a model")
        else:
            path.write_bytes(content)
        out[name] = (path, needle)
    torch.save({"format": "bngan-checkpoint", "payload": Evil(str(tmp / "pwned"))}, tmp / "evil.pt")
    out["pickled-code"] = (tmp / "evil.pt", "pickled Python objects")
    torch.save(torch.zeros(3), tmp / "tensor.pt")
    out["plain-tensor"] = (tmp / "tensor.pt", "not a bngan checkpoint")
    out["missing"] = (tmp / "nowhere.pt", "no checkpoint at")
    (tmp / "folder.pt").mkdir()
    out["a-folder"] = (tmp / "folder.pt", "no checkpoint at")
    return out


FILE_CASES = ["flipped-weights", "truncated", "empty", "random", "text", "zip-of-text", "pickled-code",
              "plain-tensor", "missing", "a-folder"]


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize("case", FILE_CASES)
def test_damaged_foreign_and_malicious_files(case: str, loader: str, run: Path, tmp_path: Path) -> None:
    path, needle = _files(run, tmp_path)[case]
    with pytest.raises(CheckpointError) as info:
        LOADERS[loader](path)
    assert needle in clear(str(info.value))
    assert not (tmp_path / "pwned").exists()  # the pickled code never ran


def test_a_malicious_file_is_refused_in_our_words(run: Path, tmp_path: Path) -> None:
    path, _ = _files(run, tmp_path)["pickled-code"]
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "could run code" in message and "never loads such files" in message and "weights_only" not in message


@pytest.mark.parametrize(("args", "needle"), [
    (["sample", "--checkpoint", "{flipped}", "--label", "1", "--out", "{tmp}/g.png"], "CRC"),
    (["sample", "--checkpoint", "{nan}", "--label", "1", "--out", "{tmp}/g.png"], "NaN"),
    (["traverse", "--checkpoint", "{steptext}", "--code", "1", "--out", "{tmp}/t.png"], "'step'"),
    (["train", "--resume", "{steptext}", "--out", "{tmp}/r"], "'step'"),
    (["train", "--resume", "{norng}", "--out", "{tmp}/r"], "'rng'"),
    (["train", "--resume", "{evil}", "--out", "{tmp}/r"], "refused"),
    (["label", "--checkpoint", "{kmismatch}", "--labels", "1=a"], "k = 4"),
    (["effects", "--checkpoint", "{flipped}"], "CRC"),
])
def test_bad_checkpoints_on_the_command_line(args: list[str], needle: str, run: Path, good: dict, tmp_path: Path,
                                             capsys) -> None:
    files = _files(run, tmp_path)
    names = {
        "flipped": files["flipped-weights"][0], "evil": files["pickled-code"][0],
        "nan": _damaged(good, EDITS["nan-generator"][0], tmp_path / "nan.pt"),
        "steptext": _damaged(good, EDITS["step-text"][0], tmp_path / "steptext.pt"),
        "norng": _damaged(good, RESUME_ONLY["rng-missing"][0], tmp_path / "norng.pt"),
        "kmismatch": _damaged(good, EDITS["structure-k"][0], tmp_path / "k.pt"),
    }
    assert main([a.format(tmp=tmp_path, **names) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bngan: error: ") and needle in clear(err)
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "t.png").exists()


# the command line -------------------------------------------------------------------------------------------
CLI: list[tuple[list[str], str]] = [
    (["train", "--steps", "0", "--out", "{tmp}/x"], "steps"),
    (["train", "--steps", "-5", "--out", "{tmp}/x"], "steps"),
    (["train", "--steps", "abc", "--out", "{tmp}/x"], "invalid int value"),
    (["train", "--epochs", "0", "--out", "{tmp}/x"], "epochs"),
    (["train", "--epochs", "inf", "--out", "{tmp}/x"], "epochs"),
    (["train", "--time-budget", "-1", "--out", "{tmp}/x"], "time_budget_s"),
    (["train", "--out", ""], "--out must name a run folder"),
    (["train", "--out", "   "], "--out must name a run folder"),
    (["train", "--out", "{tmp}/afile"], "is a file"),
    (["train", "--seed", str(2**64), "--out", "{tmp}/x"], "seed must be from 0"),
    (["train", "--seed", "-1", "--out", "{tmp}/x"], "seed must be from 0"),
    (["train", "--seed", "abc", "--out", "{tmp}/x"], "invalid seed"),
    (["train", "--structure", "entangled:abc", "--out", "{tmp}/x"], "whole number"),
    (["train", "--structure", "entangled:99", "--out", "{tmp}/x"], "k must be an integer"),
    (["train", "--structure", "entangled:" + "9" * 5000, "--out", "{tmp}/x"], "whole number"),
    (["train", "--structure", "nosuch", "--out", "{tmp}/x"], "neither a preset"),
    (["train", "--structure", "{tmp}/c01.json", "--out", "{tmp}/x"], "unknown node"),
    (["train", "--structure", "{tmp}/nested.json", "--out", "{tmp}/x"], "nested too deeply"),
    (["train", "--structure", "{tmp}/huge.json", "--out", "{tmp}/x"], "a structure JSON is at most"),
    (["train", "--structure", "{tmp}/binary.json", "--out", "{tmp}/x"], "not valid JSON"),
    (["train", "--structure", "{tmp}/kdigits.json", "--out", "{tmp}/x"], "not valid JSON"),
    (["train", "--structure", "{tmp}", "--out", "{tmp}/x"], "neither a preset"),
    (["train", "--minority", "a,b", "--out", "{tmp}/x"], "--minority takes class numbers"),
    (["train", "--minority", "1" * 5000, "--out", "{tmp}/x"], "--minority takes class numbers"),
    (["train", "--minority", "99", "--out", "{tmp}/x"], "not classes of this data set"),
    (["train", "--ir", "nan", "--out", "{tmp}/x"], "imbalance ratio"),
    (["train", "--ir", "0", "--out", "{tmp}/x"], "imbalance ratio"),
    (["train", "--lambda-reg", "nan", "--out", "{tmp}/x"], "lambda_reg"),
    (["train", "--batch-size", "1", "--out", "{tmp}/x"], "batch_size"),
    (["train", "--image-size", "30", "--out", "{tmp}/x"], "multiple of 4"),
    (["train", "--dataset", "cifar", "--out", "{tmp}/x"], "dataset must be one of"),
    (["train", "--dataset", "folder", "--out", "{tmp}/x"], "needs a root"),
    (["train", "--dataset", "folder", "--data-dir", "{tmp}/nowhere", "--out", "{tmp}/x"], "does not exist"),
    (["train", "--dataset", "mnist", "--data-dir", "{tmp}/nowhere", "--out", "{tmp}/x"], "--download"),
    (["train", "--device", "tpu", "--out", "{tmp}/x"], "invalid choice"),
    (["train", "--resume", "{tmp}/nowhere.pt", "--out", "{tmp}/x"], "no checkpoint at"),
    (["train", "--evil-flag", "--out", "{tmp}/x"], "unrecognized arguments"),
    (["train"], "--out"),
    ([], "required"),
    (["nosuch"], "invalid choice"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--n", "0", "--out", "{tmp}/g.png"], "--n must be"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--n", str(10**9), "--out", "{tmp}/g.png"], "--n must"),
    (["sample", "--checkpoint", "{run}", "--label", "-1", "--out", "{tmp}/g.png"], "--label must be"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--out", "{tmp}/g.txt"], "--out must be"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--out", "{tmp}/.png"], "--out must be"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--seed", str(2**64), "--out", "{tmp}/g.png"], "seed"),
    (["sample", "--checkpoint", "{run}", "--label", "1", "--device", "gpu", "--out", "{tmp}/g.png"], "choice"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--span", "nan", "--out", "{tmp}/t.png"], "--span"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--span", "inf", "--out", "{tmp}/t.png"], "--span"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--span", "1e300", "--out", "{tmp}/t.png"], "--span"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--span", "0", "--out", "{tmp}/t.png"], "--span"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--span", "-2", "--out", "{tmp}/t.png"], "--span"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--steps", "1", "--out", "{tmp}/t.png"], "--steps"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--steps", "100000", "--out", "{tmp}/t.png"], "--steps"),
    (["traverse", "--checkpoint", "{run}", "--code", "0", "--out", "{tmp}/t.png"], "code must be"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--code2", "0", "--out", "{tmp}/t.png"], "code must be"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--code2", "9", "--out", "{tmp}/t.png"], "code must be"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--label", "99", "--out", "{tmp}/t.png"], "--label"),
    (["traverse", "--checkpoint", "{run}", "--code", "1", "--out", "{tmp}/t.npz"], "--out must be"),
    (["label", "--checkpoint", "{run}", "--labels", "one=thick"], "--labels takes"),
    (["label", "--checkpoint", "{run}", "--labels", "9=thick"], "out of range"),
    (["label", "--checkpoint", "{run}", "--labels", "1="], "--labels takes"),
    (["effects", "--checkpoint", "{run}", "--seeds", "1"], "--seeds must be"),
]


@pytest.mark.parametrize(("args", "needle"), CLI, ids=[f"cli-{i}" for i in range(len(CLI))])
def test_hostile_command_lines(args: list[str], needle: str, run: Path, tmp_path: Path, capsys,
                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # whatever goes wrong, nothing lands in the project
    (tmp_path / "afile").write_text("x")
    (tmp_path / "c01.json").write_text('{"k": 1, "edges": [["c01", "c1\'"]]}')
    (tmp_path / "nested.json").write_text(_nested(200_000))
    (tmp_path / "huge.json").write_text('{"k":1,"edges":' + json.dumps([["c1", "c1'"]] * 200_000) + "}")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\xfa" * 10)
    (tmp_path / "kdigits.json").write_text(_k_digits(5000))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_cli([a.format(tmp=tmp_path, run=run) for a in args]) == 2
    err = capsys.readouterr().err
    assert needle in clear(err) and "error:" in err
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before  # nothing written: no run folder, no image, no stray files


def run_cli(argv: list[str]) -> int:
    """The exit status of ``python -m bngan ...`` (argparse exits; the commands return)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


# image folders ---------------------------------------------------------------------------------------------
def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be ``width`` x ``height`` (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9)) + \
        chunk(b"IEND", b"")


def _folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> Path:
    from PIL import Image

    for cls, shapes in sizes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (w, h) in enumerate(shapes):
            Image.fromarray(np.full((h, w), 30 * i + 20, dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


FOLDERS: list[tuple[Callable[[Path], None], str]] = [
    (lambda r: (r / "b" / "bomb.png").write_bytes(_png_header_only(20000, 20000)), "decompression bomb"),
    (lambda r: (r / "b" / "big.png").write_bytes(_png_header_only(5000, 5000)), "5000 x 5000 pixels"),
    (lambda r: (r / "empty").mkdir(), "holds no images"),
    (lambda r: ((r / "texts").mkdir(), (r / "texts" / "a.txt").write_text("x")), "holds no images"),
    (lambda r: (r / "b" / "broken.png").write_bytes(b"not an image"), "cannot read image"),
    (lambda r: (r / "b" / "cut.png").write_bytes((r / "a" / "0.png").read_bytes()[:40]), "cannot read image"),
]


@pytest.mark.parametrize(("spoil", "needle"), FOLDERS, ids=[f"folder-{i}" for i in range(len(FOLDERS))])
def test_hostile_image_folders(spoil: Callable[[Path], None], needle: str, tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", {"a": [(12, 12)] * 3, "b": [(12, 12)] * 3})
    spoil(root)
    with pytest.raises(DataError) as info:
        load_dataset("folder", root=root)
    assert needle in clear(str(info.value))


@pytest.mark.parametrize(("layout", "needle"), [
    ({"a": [(12, 12)]}, "at least two class sub-folders"),
    ({}, "at least two class sub-folders"),
])
def test_folders_without_classes(layout: dict, needle: str, tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", layout)
    root.mkdir(exist_ok=True)
    with pytest.raises(DataError, match=needle):
        load_dataset("folder", root=root)


def test_non_square_and_mixed_images_become_one_square_side_that_trains(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", {"a": [(40, 20), (20, 40), (33, 17)], "b": [(40, 20), (64, 64)]})
    (root / ".hidden").mkdir()  # not a class
    data, held_out = load_dataset("folder", root=root), load_dataset("folder", root=root, train=False)
    assert data.images.shape == (3, 1, 20, 20) and data.class_names == ["a", "b"]  # 1 of each class held out
    assert held_out.images.shape == (2, 1, 20, 20)
    config = TrainConfig(dataset="folder", data_dir=str(root), steps=2, batch_size=4, z_dim=8, device="cpu",
                         imbalance={"profile": "none"}, sample_every=100)
    trainer = Trainer(config)
    assert trainer.run().steps == 2 and trainer.model_config.image_size == 20


# the library -------------------------------------------------------------------------------------------------
def _xy(n: int = 12, shape: tuple[int, ...] = (28, 28), scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.random((n, *shape)) * scale).astype(np.float32), np.array([0, 1, 9] * (n // 3))


LIBRARY: list[tuple[dict, Callable[[], tuple[np.ndarray, np.ndarray]], str]] = [
    ({}, lambda: _xy(scale=255), "divide by 255"),
    ({}, lambda: (_xy()[0] - 2, _xy()[1]), "rescale them to [0, 1]"),
    ({}, lambda: (np.where(np.eye(28, dtype=bool), np.nan, _xy()[0]), _xy()[1]), "NaN"),
    ({}, lambda: _xy(shape=(20, 40)), "square"),
    ({}, lambda: _xy(shape=(1, 20, 40)), "square"),
    ({}, lambda: _xy(shape=(32, 32)), "resize X to 28x28"),
    ({}, lambda: _xy(shape=(3, 28, 28)), "the checkpoint makes 1x28x28"),
    ({}, lambda: _xy(shape=(2, 28, 28)), "channels"),
    ({}, lambda: _xy(shape=(1, 1, 28, 28)), "X must be images"),
    ({}, lambda: (np.array([["a"] * 784] * 12), _xy()[1]), "numeric array"),
    ({}, lambda: (_xy()[0], np.array([0, 1, 12] * 4)), "not the checkpoint's classes"),
    ({"image_shape": (1, 27, 29)}, lambda: (_xy()[0].reshape(12, -1)[:, :783], _xy()[1]), "square"),
]


@pytest.mark.parametrize(("kw", "data", "needle"), LIBRARY, ids=[f"library-{i}" for i in range(len(LIBRARY))])
def test_hostile_library_inputs_with_a_checkpoint(kw: dict, data, needle: str, run: Path) -> None:
    X, y = data()
    with pytest.raises(ValueError) as info:
        BNGANOversampler(checkpoint=str(run), device="cpu", **kw).fit_resample(X, y)
    assert needle in clear(str(info.value))


@pytest.mark.parametrize(("kw", "needle"), [
    ({"structure": "nosuch"}, "neither a preset"),
    ({"structure": "{bad"}, "not valid JSON"),
    ({"structure": '{"k": true, "edges": [["c1", "c1\'"]]}'}, "k must be an integer"),
    ({"candidates": 10**7}, "candidates"),
    ({"candidates": 0}, "candidates"),
    ({"k": 99}, "'k'"),
    ({"steps": 0}, "steps"),
])
def test_hostile_oversampler_settings(kw: dict, needle: str) -> None:
    X, y = _xy()
    with pytest.raises(ValueError) as info:
        BNGANOversampler(device="cpu", **{"steps": 2, **kw}).fit_resample(X, y)
    assert needle in clear(str(info.value))


def test_candidate_sampling_is_memory_bounded(run: Path, monkeypatch) -> None:
    import bngan.sampler as sampler

    monkeypatch.setattr(sampler, "CANDIDATE_BYTES", 4 * 28 * 28 * 50)  # chunks of 50 images
    seen: list[int] = []
    model = TrainedModel.load(run)
    original = type(model).generate

    def counting(self, labels, *args, **kw):
        seen.append(len(labels))
        return original(self, labels, *args, **kw)

    monkeypatch.setattr(TrainedModel, "generate", counting)
    over = BNGANOversampler(checkpoint=str(run), device="cpu", candidates=40)
    over.model_ = model
    images = over.generate(9, 7, seed=0)
    assert images.shape == (7, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert max(seen) <= 50 and sum(seen) == 7 * 40


@pytest.mark.parametrize(("steps", "span"), [
    (7, float("nan")), (7, float("inf")), (7, 1e300), (7, 0.0), (7, -2.0), (1, 2.0), (10**6, 2.0), (True, 2.0),
    (7, "2"),
])
def test_hostile_traversal_values(steps: object, span: object) -> None:
    with pytest.raises(InvalidSettingError) as info:
        code_values(steps, span)  # type: ignore[arg-type]
    clear(str(info.value))


@pytest.mark.parametrize("values", [[0.0, float("nan")], [float("inf")], [1e300], []])
def test_hostile_traversal_sweeps(values: list[float], run: Path) -> None:
    with pytest.raises(InvalidSettingError, match="finite"):
        strip(TrainedModel.load(run), 0, 1, torch.tensor(values))


def test_a_non_square_data_set_is_refused_before_training() -> None:
    data = ImageDataset(torch.rand(8, 1, 20, 40), torch.arange(8) % 2, ["a", "b"])
    with pytest.raises(InvalidSettingError, match="square"):
        Trainer(TrainConfig(steps=1, z_dim=8, device="cpu", imbalance={"profile": "none"}), dataset=data)


# the pages ---------------------------------------------------------------------------------------------------
APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def traversals(run: Path, good: dict, tmp_path: Path, monkeypatch) -> tuple:
    """The Traversals page over a runs folder with one good run and one hand-edited one (step "abc")."""
    from streamlit.testing.v1 import AppTest

    runs = tmp_path / "runs"
    (runs / "good").mkdir(parents=True)
    (runs / "good" / "checkpoint.pt").write_bytes(run.read_bytes())
    (runs / "edited").mkdir()
    _damaged(good, EDITS["step-text"][0], runs / "edited" / "checkpoint.pt")
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/traversals.py").run()
    at.selectbox(key="trav_checkpoint").set_value(str(runs / "good" / "checkpoint.pt")).run()
    assert not at.exception, at.exception
    return at, runs


def test_a_hand_edited_run_is_an_inline_error_on_every_rerun(traversals: tuple) -> None:
    at, runs = traversals
    at.selectbox(key="trav_checkpoint").set_value(str(runs / "edited" / "checkpoint.pt")).run()
    for _ in range(2):  # and again on the next rerun
        assert not at.exception, at.exception
        assert any("'step' must be a whole number" in e.value for e in at.error)
        at.run()


@pytest.mark.parametrize("case", ["flipped-weights", "pickled-code", "nan-generator", "structure-k"])
def test_damaged_uploads_are_refused_inline_and_not_kept(case: str, traversals: tuple, run: Path, good: dict,
                                                          tmp_path: Path) -> None:
    import hashlib
    import tempfile

    at, _ = traversals
    if case in EDITS:
        content = _damaged(good, EDITS[case][0], tmp_path / "upload.pt").read_bytes()
        needle = EDITS[case][1]
    else:
        path, needle = _files(run, tmp_path)[case]
        content = path.read_bytes()
    chosen = at.selectbox(key="trav_checkpoint").value
    at.file_uploader[0].set_value(("bad.pt", content, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert any("Could not use bad.pt" in e.value and needle in e.value for e in at.error)
    assert at.selectbox(key="trav_checkpoint").value == chosen  # the current model is kept
    kept = Path(tempfile.gettempdir()) / "bngan-uploads"
    assert not list(kept.glob(f"{hashlib.sha1(content).hexdigest()[:12]}-*"))  # nothing left behind
