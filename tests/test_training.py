import json
import math
import threading

import pytest
import torch

from bngan.checkpoint import CheckpointError, load_checkpoint
from bngan.config import ConfigError, TrainConfig
from bngan.models import ModelConfig, build_models
from bngan.training import DivergenceError, TrainedModel, Trainer


@pytest.mark.parametrize("preset", ["fast", "paper"])
@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 1), (64, 3)])
def test_models_for_every_size_and_channel_count(preset, size, channels):
    cfg = ModelConfig(preset=preset, image_size=size, channels=channels, num_classes=3, z_dim=8, code_dim=2,
                      extract_z=True)
    gen, disc = build_models(cfg)
    images = gen(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]), torch.randn(4, 2))
    assert images.shape == (4, channels, size, size) and images.abs().max() <= 1
    out = disc(images, torch.tensor([0, 1, 2, 0]))
    assert out["adv"].shape == (4,) and out["cls"].shape == (4, 3) and out["code"].shape == (4, 2)
    assert out["z"].shape == (4, 8)


@pytest.mark.parametrize(("size", "stages"), [(28, 2), (32, 2), (64, 3), (128, 4)])
def test_fast_preset_deepens_with_the_image_side(size, stages):
    """Large images get more stride-2 stages, so the smallest feature map stays at most 8x8 (a discriminator
    that sees the whole object, a generator whose first layer does not grow with the image)."""
    gen, disc = build_models(ModelConfig(preset="fast", image_size=size))
    convs = [m for m in disc.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == stages
    assert disc.feature_dim <= 128 * 8 * 8
    assert gen.project[0].out_features == disc.feature_dim
    images = gen(torch.randn(2, 62), torch.tensor([0, 1]), torch.randn(2, 4))
    assert images.shape == (2, 1, size, size)


def test_step_emits_losses_samples_and_bn_fit(tiny_config):
    trainer = Trainer(tiny_config)
    event = trainer.step()
    assert event.step == 1 and {"d_adv", "g_adv", "g_cls", "reg"} <= set(event.losses)
    assert event.samples.shape == (80, 1, 28, 28)  # one row of 8 per class
    assert len(event.bn_fit) == 3 and {"weights", "sigma2", "r2"} <= set(event.bn_fit[0])
    assert all(torch.isfinite(torch.tensor(v)) for v in event.losses.values())


def test_teaching_steps_update_one_network_only(tiny_config):
    trainer = Trainer(tiny_config)
    g_before = [p.clone() for p in trainer.generator.parameters()]
    d_before = [p.clone() for p in trainer.discriminator.parameters()]
    trainer.step("d")
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))
    d_now = [p.clone() for p in trainer.discriminator.parameters()]
    trainer.step("g")
    assert all(torch.equal(a, b) for a, b in zip(d_now, trainer.discriminator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))


def test_stop_request_is_honoured_within_one_step(tiny_config):
    trainer = Trainer(tiny_config.replace(steps=1000))
    stop = threading.Event()
    result = trainer.run(callback=lambda e: stop.set() if e.step == 3 else None, stop=stop)
    assert result.stopped and result.steps == 3


def test_time_budget_and_epochs_bound_the_run(tiny_config):
    trainer = Trainer(tiny_config.replace(steps=None, epochs=0.05))
    expected = math.ceil(0.05 * len(trainer.data) / 16)
    assert trainer.steps_target() == expected and trainer.run().steps == expected
    timed = Trainer(tiny_config.replace(steps=None, time_budget_s=0.3))
    assert timed.run().elapsed_s >= 0.3


def test_checkpoint_round_trip_and_resume(tiny_config, tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    trainer = Trainer(tiny_config)
    trainer.run(checkpoint_path=path)
    assert load_checkpoint(path)["step"] == 4
    assert not list(path.parent.glob("*.tmp"))  # the atomic write cleaned up
    resumed = Trainer.resume(path, steps=7)
    for a, b in zip(trainer.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.run().steps == 7
    # the same continuation as an uninterrupted run: identical weights
    straight = Trainer(tiny_config.replace(steps=7))
    straight.run()
    for a, b in zip(straight.generator.parameters(), resumed.generator.parameters()):
        assert torch.allclose(a, b, atol=1e-5)
    model = TrainedModel.load(path)
    images = model.generate(torch.tensor([0, 9]), seed=1)
    assert images.shape == (2, 1, 28, 28) and torch.equal(images, model.generate(torch.tensor([0, 9]), seed=1))


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="not a readable bngan checkpoint"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="not a bngan checkpoint"):
        TrainedModel.load(foreign)

    class Evil:  # a pickled object that would run code on load
        def __reduce__(self):
            return (print, ("executed",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "bngan-checkpoint", "payload": Evil()}, evil)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_divergence_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    path = tmp_path / "checkpoint.pt"
    trainer = Trainer(tiny_config.replace(steps=2))
    trainer.run(checkpoint_path=path)
    good = path.read_bytes()
    with torch.no_grad():
        next(trainer.generator.parameters()).fill_(float("nan"))
    trainer.config = trainer.config.replace(steps=6)
    with pytest.raises(DivergenceError, match="diverged"):
        trainer.run(checkpoint_path=path)
    assert path.read_bytes() == good


@pytest.mark.parametrize(("change", "needle"), [
    ({"lambda_reg": -1}, "lambda_reg"), ({"batch_size": 1}, "batch_size"), ({"preset": "huge"}, "preset"),
    ({"steps": None}, "at least one"), ({"image_size": 30}, "multiple of 4"), ({"device": "tpu"}, "device"),
    ({"structure": {"k": 2, "edges": [["c1", "c1'"]]}}, "no parent"),
])
def test_out_of_range_settings_are_named(change, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainConfig(**change)


def test_config_json_round_trip():
    config = TrainConfig(lambda_reg=0.5)
    assert TrainConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainConfig.from_dict({"lamda": 1})


def test_reg_through_generator_trains_the_code_head_to_read_codes_back(tiny_config):
    """With reg_through='generator' the discriminator's code head learns the InfoGAN loss (read ci back) and
    only the generator update carries the drawn regulariser."""
    from bngan.regularizer import BayesianRegularizer

    both = Trainer(tiny_config)
    assert both.head_regularizer is both.regularizer
    trainer = Trainer(tiny_config.replace(reg_through="generator"))
    assert trainer.head_regularizer.mode == "infogan" and trainer.regularizer.mode == "paper"
    c = torch.randn(32, 3)
    codes = c + 0.1 * torch.randn(32, 3)
    infogan = BayesianRegularizer(trainer.structure, mode="infogan").terms(c, codes)["total"]
    assert torch.isclose(trainer.head_regularizer.terms(c, codes)["total"], infogan)
    assert not torch.isclose(trainer.regularizer.terms(c, codes)["total"], infogan)
    event = trainer.step()
    assert {"d_reg", "reg"} <= set(event.losses)
    with pytest.raises(ConfigError, match="reg_through"):
        tiny_config.replace(reg_through="head")


def test_ema_weights_differ_from_the_live_ones_and_are_the_ones_saved(tiny_config, tmp_path):
    trainer = Trainer(tiny_config.replace(ema_decay=0.9, steps=6))
    trainer.run()
    live = trainer.generator.state_dict()
    ema = trainer.sampling_generator.state_dict()
    name = next(k for k, v in live.items() if v.is_floating_point() and v.ndim > 1)
    assert not torch.equal(live[name], ema[name])
    path = trainer.save(tmp_path / "checkpoint.pt")
    model = TrainedModel.load(path)
    assert torch.equal(model.generator.state_dict()[name], ema[name])  # inference loads the average
    resumed = Trainer.resume(path)
    assert torch.equal(resumed.generator.state_dict()[name], live[name])  # training resumes the live weights
    assert torch.equal(resumed.sampling_generator.state_dict()[name], ema[name])
    assert int(resumed.ema.n_averaged) == 6
    sampled = trainer.trained_model()
    assert sampled.generator is trainer.sampling_generator  # the oversampler samples from the average


def test_diffaugment_shows_real_and_fake_the_same_transforms_in_both_updates(tiny_config, monkeypatch):
    import bngan.training as training

    seen: list[tuple[int, ...]] = []

    def recording(images, generator=None):
        seen.append(tuple(images.shape))
        return training_augment(images, generator=generator)

    training_augment = training.diff_augment
    monkeypatch.setattr(training, "diff_augment", recording)
    trainer = Trainer(tiny_config.replace(diffaugment=True))
    trainer.step()
    assert seen == [(16, 1, 28, 28)] * 3  # real and fake in the D update, fake in the G update
    seen.clear()
    Trainer(tiny_config).step()
    assert seen == []  # off by default: the paper's recipe


@pytest.mark.parametrize("options", [{}, {"adv_loss": "hinge"}, {"lecam": 0.1}, {"spectral_norm": True},
                                     {"diffaugment": True, "ema_decay": 0.99}])
def test_every_loss_trains_and_the_divergence_guard_holds(tiny_config, tmp_path, options):
    trainer = Trainer(tiny_config.replace(steps=2, **options))
    trainer.run()
    assert all(math.isfinite(v) for v in trainer.step().losses.values())
    with torch.no_grad():
        next(trainer.generator.parameters()).fill_(float("nan"))
    with pytest.raises(DivergenceError, match="diverged"):
        trainer.step()


@pytest.mark.parametrize(("change", "needle"), [
    ({"adv_loss": "wasserstein"}, "adv_loss"), ({"ema_decay": 0.2}, "ema_decay"), ({"lecam": -1}, "lecam"),
])
def test_training_options_are_validated(change, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainConfig(**change)


def test_run_menus_name_the_checkpoints_true_step(tiny_config, tmp_path):
    """A run's menu entry gives its checkpoint's step (written beside it), not the number of metrics rows."""
    from bngan.files import saved_step
    from bngan.runs import RunWriter, list_runs

    trainer = Trainer(tiny_config.replace(steps=5, checkpoint_every=2))
    writer = RunWriter(tmp_path / "run", trainer)
    for _ in range(3):
        writer(trainer.step())
    trainer.save(writer.checkpoint)
    writer(trainer.step())  # a step after the last checkpoint: in the metrics, not in the checkpoint
    writer.close()
    assert saved_step(writer.checkpoint) == 3
    assert [run.steps for run in list_runs(tmp_path)] == [3]
