import pytest
import torch

from bngan import LatentStructure
from bngan.regularizer import MODES, BayesianRegularizer, naive_paper_regularizer

STRUCTURES = [LatentStructure.preset(name, 4) for name in ("disentangled", "entangled", "reference")]


def follow(structure: LatentStructure, c: torch.Tensor) -> torch.Tensor:
    """Codes that obey the structure: each latent is the mean of its (observed) parents."""
    mask = torch.as_tensor(structure.parent_mask()[:, : structure.k], dtype=torch.float32)
    return c @ (mask / mask.sum(1, keepdim=True)).T


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("structure", STRUCTURES, ids=lambda s: str(len(s.edges)))
def test_gradient_is_non_zero_on_random_input(mode, structure):
    c = torch.randn(128, 4)
    c_latent = torch.randn(128, 4, requires_grad=True)
    BayesianRegularizer(structure, mode=mode)(c, c_latent).backward()
    assert torch.isfinite(c_latent.grad).all() and c_latent.grad.abs().sum() > 1e-3


@pytest.mark.parametrize("mode", ("paper", "gaussian"))
@pytest.mark.parametrize("structure", STRUCTURES, ids=lambda s: str(len(s.edges)))
def test_codes_that_follow_the_dag_score_lower_than_violations(mode, structure):
    reg = BayesianRegularizer(structure, mode=mode)
    c = torch.randn(512, 4)
    good = follow(structure, c) + 0.05 * torch.randn(512, 4)
    swapped = good[:, [1, 0, 3, 2]]  # every latent now follows the wrong parent
    assert reg(c, good) < reg(c, swapped) - 1.0
    assert reg(c, good) < reg(c, torch.randn(512, 4))


@pytest.mark.parametrize("mode", ("paper", "gaussian"))
def test_minimising_it_makes_free_codes_follow_the_dag(mode):
    """The reference's clamp returned 0 (no gradient) on every input; ours drives random codes to the DAG."""
    structure = STRUCTURES[1]  # entangled: c3' depends on c1, c2 and c3
    c = torch.randn(512, 4)
    c_latent = torch.randn(512, 4, requires_grad=True)
    reg = BayesianRegularizer(structure, mode=mode)
    opt = torch.optim.Adam([c_latent], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        reg(c, c_latent).backward()
        opt.step()
    corr = torch.corrcoef(torch.cat([c, c_latent.detach()], 1).T)[4:, :4]  # latent x observed
    if mode == "gaussian":  # any linear function of the parents fits, of either sign
        corr = corr.abs()
        assert all(d["r2"] > 0.9 for d in reg.diagnostics(c, c_latent.detach()))
    else:  # Eq. 6 pulls c3' towards every parent: it carries all three meanings
        assert corr[2, 0] > 0.3 and corr[2, 1] > 0.3 and corr[2, 2] > 0.3
    assert corr[0, 0] > 0.9 and corr[1, 1] > 0.9 and corr[3, 3] > 0.9
    assert corr[0, 1:].abs().max() < 0.2 and corr[3, :3].abs().max() < 0.2  # independent pairs stay apart
    assert c_latent.detach().std(0).max() < 3  # pushing apart cannot be won by inflating the codes


def test_many_independent_nodes_do_not_blow_up_the_codes():
    """Five disentangled codes: each latent has 8 independent nodes and 1 parent (the dSprites setting that made
    a fixed-margin form diverge)."""
    structure = LatentStructure.preset("disentangled", 5)
    c = torch.randn(256, 5)
    c_latent = torch.randn(256, 5, requires_grad=True)
    reg = BayesianRegularizer(structure)
    opt = torch.optim.Adam([c_latent], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        reg(c, c_latent).backward()
        opt.step()
    assert c_latent.detach().abs().mean() < 2 and reg(c, c_latent) < 0.5


@pytest.mark.parametrize("structure", STRUCTURES, ids=lambda s: str(len(s.edges)))
def test_vectorised_form_equals_naive_loop(structure):
    c, c_latent = torch.randn(64, 4), torch.randn(64, 4)
    fast = BayesianRegularizer(structure, mode="paper")(c, c_latent)
    assert torch.allclose(fast, naive_paper_regularizer(structure, c, c_latent), atol=1e-5)


def test_diagnostics_recover_the_local_weights():
    structure = STRUCTURES[1]
    c = torch.randn(2048, 4)
    c_latent = c.clone()
    c_latent[:, 2] = 0.5 * c[:, 0] - 0.25 * c[:, 1] + 1.0 * c[:, 2] + 0.1 * torch.randn(2048)
    diag = BayesianRegularizer(structure).diagnostics(c, c_latent)
    third = diag[2]
    assert third["latent"] == "c3'"
    assert third["weights"]["c1"] == pytest.approx(0.5, abs=0.02)
    assert third["weights"]["c2"] == pytest.approx(-0.25, abs=0.02)
    assert third["sigma2"] == pytest.approx(0.01, abs=0.003)
    assert third["r2"] > 0.99


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        BayesianRegularizer(STRUCTURES[0])(torch.randn(8, 3), torch.randn(8, 3))
    with pytest.raises(ValueError, match="unknown regulariser mode"):
        BayesianRegularizer(STRUCTURES[0], mode="magic")
