"""The Bayesian regulariser: how well the extracted codes ``c'`` follow the user's DAG.

Nodes are the columns of ``V = [c, c']`` (``(batch, 2k)``). For latent code ``i`` the structure gives a parent
mask (pull together) and an independence mask (push apart: nodes the DAG makes marginally independent of
``c'_i``). Two forms:

- ``mode="paper"`` (Eq. 6): ``R = Σ_i [Σ_{p∈pa(i)} ℓ(c'_i, p) + Σ_{q⊥i} ρ²(c'_i, q)]`` with ``ℓ`` the batch
  mean squared error and ``ρ`` the batch correlation. Eq. 6 subtracts ``ℓ`` for non-parents, which is
  unbounded (the reference clamps the whole sum at 0 and so never produces a gradient; a margin on ``ℓ``
  held fixed still lets the codes escape by inflating their variance, measured on dSprites). The squared
  correlation is the bounded, scale-free form of "explained by its non-parents": it lies in [0, 1] per pair,
  is zero exactly when the pair is uncorrelated, and has a gradient whenever it is not.
- ``mode="gaussian"`` (Eq. 3–5): the linear-Gaussian local model ``c'_i | pa(i) ~ N(w_iᵀ pa(i), σ_i²)`` fitted
  per batch by differentiable ridge least squares; the loss is its negative log-likelihood per sample (with
  a variance floor) plus the squared correlation of ``c'_i`` with every independent node.

- ``mode="infogan"``: the InfoGAN baseline: ``Σ_i ℓ(c'_i, c_i)`` (the Gaussian mutual-information bound with
  fixed variance), whatever the structure says; the same networks, so a comparison isolates the structure.

Everything is computed with tensor ops over the masks: no Python loop over edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bngan.errors import InvalidSettingError
from bngan.structure import LatentStructure

MODES = ("paper", "gaussian", "infogan")


@dataclass
class LocalFit:
    """Per latent code: fitted parent weights (``(k, 2k)``, zero off the parents), bias, residuals ``(B, k)``,
    σ² (floored) and R²."""

    weights: torch.Tensor
    bias: torch.Tensor
    residual: torch.Tensor
    sigma2: torch.Tensor
    r2: torch.Tensor


def pairwise_mse(latent: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """``ℓ[i, j] = mean_b (latent[b, i] − nodes[b, j])²`` as a ``(k, 2k)`` matrix."""
    return (latent.unsqueeze(2) - nodes.unsqueeze(1)).pow(2).mean(0)


def pairwise_corr2(latent: torch.Tensor, nodes: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Squared Pearson correlation of every latent column with every node column, ``(k, 2k)``."""
    a = latent - latent.mean(0)
    b = nodes - nodes.mean(0)
    cov = a.T @ b / len(a)
    var = a.pow(2).mean(0).unsqueeze(1) * b.pow(2).mean(0).unsqueeze(0)
    return cov.pow(2) / (var + eps)


def fit_local_models(nodes: torch.Tensor, parent_mask: torch.Tensor, ridge: float = 1e-3,
                     var_floor: float = 1e-3) -> LocalFit:
    """Least-squares fit of every latent code on its parents at once (Eq. 3–4), differentiable.

    Each latent ``i`` gets the design matrix ``V · mask_i`` plus a bias column; masked-out columns are zero
    and the ridge keeps the batched normal equations solvable.
    """
    k = parent_mask.shape[0]
    batch = nodes.shape[0]
    target = nodes[:, k:]  # (B, k)
    design = nodes.unsqueeze(0) * parent_mask.unsqueeze(1).to(nodes.dtype)  # (k, B, 2k)
    design = torch.cat([design, nodes.new_ones(k, batch, 1)], dim=2)  # (k, B, 2k+1)
    gram = design.transpose(1, 2) @ design / batch
    eye = torch.eye(gram.shape[-1], dtype=nodes.dtype, device=nodes.device)
    rhs = design.transpose(1, 2) @ target.T.unsqueeze(2) / batch  # (k, 2k+1, 1)
    coef = torch.linalg.solve(gram + ridge * eye, rhs).squeeze(2)  # (k, 2k+1)
    pred = (design @ coef.unsqueeze(2)).squeeze(2).T  # (B, k)
    residual = target - pred
    sigma2 = residual.pow(2).mean(0).clamp_min(var_floor)
    total = (target - target.mean(0)).pow(2).mean(0).clamp_min(1e-8)
    r2 = 1 - residual.pow(2).mean(0) / total
    return LocalFit(weights=coef[:, :-1], bias=coef[:, -1], residual=residual, sigma2=sigma2, r2=r2)


class BayesianRegularizer(nn.Module):
    """Scalar penalty, small when the extracted codes follow the structure; call with ``(c, c_latent)``."""

    def __init__(self, structure: LatentStructure, mode: str = "paper", independence: str = "marginal",
                 var_floor: float = 1e-2, independence_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in MODES:
            raise InvalidSettingError(f"unknown regulariser mode {mode!r}; choose one of {', '.join(MODES)}")
        if independence not in ("marginal", "literal"):
            raise InvalidSettingError("independence must be 'marginal' (d-separation) or 'literal' (all non-parents)")
        self.structure = structure
        self.mode = mode
        self.var_floor = var_floor
        self.independence_weight = independence_weight
        negatives = structure.independence_mask() if independence == "marginal" else structure.non_parent_mask()
        self.register_buffer("parent_mask", torch.as_tensor(structure.parent_mask(), dtype=torch.float32))
        self.register_buffer("negative_mask", torch.as_tensor(negatives, dtype=torch.float32))

    def nodes(self, c: torch.Tensor, c_latent: torch.Tensor) -> torch.Tensor:
        if c.shape != c_latent.shape or c.ndim != 2 or c.shape[1] != self.structure.k:
            raise InvalidSettingError(f"expected c and c' of shape (batch, {self.structure.k}), got "
                             f"{tuple(c.shape)} and {tuple(c_latent.shape)}")
        return torch.cat([c, c_latent], dim=1).float()

    def terms(self, c: torch.Tensor, c_latent: torch.Tensor) -> dict[str, torch.Tensor]:
        """The positive (parents) and negative (independent nodes) parts and their total."""
        nodes = self.nodes(c, c_latent)
        latent = nodes[:, self.structure.k:]
        if self.mode == "infogan":
            mse = (latent - nodes[:, : self.structure.k]).pow(2).mean(0).sum()
            return {"parents": mse, "independent": mse.new_zeros(()), "total": mse}
        dependence = (pairwise_corr2(latent, nodes) * self.negative_mask).sum()
        if self.mode == "paper":
            positive = (pairwise_mse(latent, nodes) * self.parent_mask).sum()
        else:
            fit = fit_local_models(nodes, self.parent_mask, var_floor=self.var_floor)
            positive = 0.5 * (torch.log(2 * torch.pi * fit.sigma2) + fit.residual.pow(2).mean(0) / fit.sigma2).sum()
        return {"parents": positive, "independent": dependence,
                "total": positive + self.independence_weight * dependence}

    def forward(self, c: torch.Tensor, c_latent: torch.Tensor) -> torch.Tensor:
        return self.terms(c, c_latent)["total"]

    @torch.no_grad()
    def diagnostics(self, c: torch.Tensor, c_latent: torch.Tensor) -> list[dict]:
        """Per latent code: the fitted weight of each parent, σ² and R² (what the app draws on the edges)."""
        nodes = self.nodes(c, c_latent)
        fit = fit_local_models(nodes, self.parent_mask, var_floor=0.0)
        names = self.structure.nodes
        out = []
        for i in range(self.structure.k):
            parents = [j for j in range(len(names)) if self.parent_mask[i, j] > 0]
            out.append({
                "latent": names[self.structure.k + i],
                "weights": {names[j]: float(fit.weights[i, j]) for j in parents},
                "sigma2": float(fit.sigma2[i]),
                "r2": float(fit.r2[i]),
            })
        return out


def naive_paper_regularizer(structure: LatentStructure, c: torch.Tensor, c_latent: torch.Tensor) -> torch.Tensor:
    """Eq. 6 (bounded form) as loops over nodes: the reference the vectorised form is tested against."""
    nodes = torch.cat([c, c_latent], dim=1)
    parents, negatives = structure.parent_mask(), structure.independence_mask()
    total = torch.zeros(())
    for i in range(structure.k):
        for j in range(2 * structure.k):
            a, b = c_latent[:, i], nodes[:, j]
            if parents[i, j]:
                total = total + ((a - b) ** 2).mean()
            elif negatives[i, j]:
                a0, b0 = a - a.mean(), b - b.mean()
                total = total + (a0 * b0).mean() ** 2 / ((a0**2).mean() * (b0**2).mean() + 1e-6)
    return total
