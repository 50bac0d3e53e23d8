"""A short real training run on the embedded digits: the code head recovers c and follows the DAG."""

import pytest
import torch

from bngan.config import TrainConfig
from bngan.regularizer import fit_local_models
from bngan.structure import LatentStructure
from bngan.training import Trainer


@pytest.fixture(scope="module")
def trained() -> Trainer:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    structure = LatentStructure.preset("entangled", 3)
    trainer = Trainer(TrainConfig(dataset="digits", steps=300, sample_every=10**6, structure=structure.to_dict(),
                                  device="cpu", seed=0))
    trainer.run()
    return trainer


@torch.no_grad()
def codes(trainer: Trainer, n: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    trainer.generator.eval()
    trainer.discriminator.eval()
    y = torch.randint(10, (n,))
    z, c = trainer.latent_batch(n)
    return c, trainer.discriminator(trainer.generator(z, y, c), y)["code"]


def test_code_head_recovers_the_observed_codes(trained):
    fit = trained.bn_fit(n=1024)
    assert [d["latent"] for d in fit] == ["c1'", "c2'", "c3'"]
    assert all(d["r2"] >= 0.5 for d in fit), fit


def test_parents_predict_each_latent_better_than_non_parents(trained):
    c, c_latent = codes(trained)
    nodes = torch.cat([c, c_latent], 1)
    structure = trained.structure
    by_parents = fit_local_models(nodes, torch.as_tensor(structure.parent_mask(), dtype=torch.float32)).r2
    by_others = fit_local_models(nodes, torch.as_tensor(structure.independence_mask(), dtype=torch.float32)).r2
    assert (by_parents > by_others + 0.3).all(), (by_parents, by_others)
    # entangled: c3' carries c1 and c2 as well as c3
    corr = torch.corrcoef(torch.cat([c, c_latent], 1).T)[5, :3]
    assert (corr.abs() > 0.2).all(), corr


def test_a_requested_class_is_generated(trained):
    """The class head, trained on real labels, recognises the generator's output as the requested class."""
    trained.discriminator.eval()
    y = torch.arange(10).repeat_interleave(50)
    images = trained.generate(y)
    with torch.no_grad():
        predicted = trained.discriminator(images * 2 - 1)["cls"].argmax(1)
    assert (predicted == y).float().mean() > 0.8
