"""What each latent code does to the image, measured: the effect matrix and its agreement with the drawn DAG.

A traversal sweeps one code from ``-span`` to ``+span`` with the noise and the other codes fixed; the change of
a measured attribute over the sweep (the least-squares slope times the sweep's width), averaged over noise
draws, is the code's effect on that attribute for one class. Dividing by the attribute's spread among the
class's ordinary samples (random noise and codes) makes attributes comparable: an effect of 1 moves the
attribute by one natural standard deviation of the class. The matrix entry is the mean over classes of the
absolute effect, with a bootstrap interval over noise draws.

*Placebo rows* sweep random unit directions of the noise ``z`` by the same span: directions no regulariser
touched. They tell how much *any* input direction moves the attributes, and how strongly the attributes move
together in what this generator makes (a thick digit may also lean more).

The drawn structure predicts the matrix: a code whose latent ``ci'`` has no other observed ancestor should move
one attribute (its *purity* is high); a code whose ``cj'`` has other observed codes among its ancestors should
also move what those parents move (its *coverage* of their strongest attributes is high). The agreement score
averages these per-code predictions; see ``docs/structure-effects.md`` for the definitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from bngan.errors import InvalidSettingError
from bngan.structure import LatentStructure, latent, observed

if TYPE_CHECKING:
    import torch

    from bngan.training import TrainedModel

DIGIT_ATTRIBUTES = ("thickness", "slant", "ink", "width", "height")
MOMENT_ATTRIBUTES = ("ink", "cx", "cy", "width", "height", "orientation")  # any image: from image moments
DIGIT_DATASETS = ("digits", "mnist")


def attributes_for(dataset: str) -> tuple[str, ...]:
    """Stroke thickness and slant mean something for digits only; other images get moment measures."""
    return DIGIT_ATTRIBUTES if dataset in DIGIT_DATASETS else MOMENT_ATTRIBUTES


@dataclass
class EffectMatrix:
    """Rows (codes, then placebo directions) × attributes; ``effect`` ± a 95% bootstrap interval."""

    rows: list[str]
    attributes: list[str]
    effect: np.ndarray  # (rows, attributes): mean over classes of |standardised change|
    low: np.ndarray
    high: np.ndarray
    signed: np.ndarray  # (rows, attributes, classes): mean standardised change per class, with its sign
    change: np.ndarray  # (rows, attributes): mean over classes of |change| in the attribute's own unit
    classes: list[int]
    k: int  # the first k rows are the codes c1..ck
    settings: dict = field(default_factory=dict)

    @property
    def codes(self) -> np.ndarray:
        """The codes' rows only (placebo rows dropped)."""
        return self.effect[: self.k]

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("effect", "low", "high", "signed", "change"):
            out[key] = np.round(getattr(self, key), 5).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> EffectMatrix:
        arrays = {key: np.asarray(data[key], dtype=float) for key in ("effect", "low", "high", "signed", "change")}
        return cls(rows=list(data["rows"]), attributes=list(data["attributes"]), classes=list(data["classes"]),
                   k=int(data["k"]), settings=dict(data.get("settings", {})), **arrays)


# measuring ------------------------------------------------------------------------------------------------
def _sweeps(model: TrainedModel, label: int, values: torch.Tensor, seeds: int, directions: torch.Tensor,
            z_values: torch.Tensor) -> list[torch.Tensor]:
    """For each row (code, then each noise direction): images ``(seeds * steps, C, H, W)`` of one class.

    Noise draw ``s`` and the codes at 0 are shared by all rows, so rows differ only in what they sweep.
    """
    import torch

    g = torch.Generator().manual_seed(label)
    z0 = torch.randn(seeds, model.generator.cfg.z_dim, generator=g)
    steps, k = len(values), model.structure.k
    z = z0.repeat_interleave(steps, 0)
    sweep = values.repeat(seeds)
    labels = torch.full((len(z),), label)
    out = []
    for code in range(k):
        c = torch.zeros(len(z), k)
        c[:, code] = sweep
        out.append(model.generate(labels, codes=c, z=z))
    z_sweep = z_values.repeat(seeds)
    for u in directions:
        out.append(model.generate(labels, codes=torch.zeros(len(z), k), z=z + z_sweep[:, None] * u))
    return out


def _class_spread(model: TrainedModel, label: int, attributes: tuple[str, ...], n: int) -> np.ndarray:
    """Each attribute's std among ``n`` ordinary samples of the class (noise and codes from the prior)."""
    import torch

    from bngan.traversal import measure

    images = model.generate(torch.full((n,), label), seed=10_000 + label)
    m = measure(images)
    return np.array([max(float(np.std(m[a])), 1e-6) for a in attributes])


def effect_matrix(model: TrainedModel, attributes: tuple[str, ...] | None = None, classes: list[int] | None = None,
                  seeds: int = 16, steps: int = 9, span: float | None = None, placebo: int = 2,
                  spread_n: int = 256, bootstrap: int = 1000, random_state: int = 0) -> EffectMatrix:
    """Measure every code's effect on every attribute (and ``placebo`` random noise directions' effects).

    ``classes`` defaults to every class the model was trained on; ``seeds`` noise draws per class; a code
    sweeps ``steps`` values in ``[-span, span]`` (default: ±2 for a normal code prior, the whole ±1 of a
    uniform one), a noise direction ±2 (the noise is normal). Deterministic for a given model and settings.
    """
    import torch

    from bngan.traversal import code_values, measure

    attributes = tuple(attributes or attributes_for(model.config.dataset))
    classes = list(range(len(model.class_names))) if classes is None else list(classes)
    if seeds < 2:
        raise InvalidSettingError("effect_matrix needs at least 2 noise draws (seeds) for an interval")
    span = span if span is not None else (1.0 if model.config.code_prior == "uniform" else 2.0)
    values = code_values(steps, span)
    z_values = code_values(steps, 2.0)
    g = torch.Generator().manual_seed(random_state)
    directions = torch.randn(placebo, model.generator.cfg.z_dim, generator=g)
    directions /= directions.norm(dim=1, keepdim=True)
    k = model.structure.k
    rows = [f"c{i}" for i in range(1, k + 1)] + [f"z·u{i}" for i in range(1, placebo + 1)]
    x = np.linspace(-1.0, 1.0, steps)  # the sweep's position; a change is the slope times the sweep's width
    # raw[r, a, class, seed]: change of attribute a over the sweep of row r, in the attribute's unit
    raw = np.zeros((len(rows), len(attributes), len(classes), seeds))
    spread = np.zeros((len(attributes), len(classes)))
    for ci, label in enumerate(classes):
        spread[:, ci] = _class_spread(model, label, attributes, spread_n)
        for r, images in enumerate(_sweeps(model, label, values, seeds, directions, z_values)):
            m = measure(images)
            for a, name in enumerate(attributes):
                curves = m[name].reshape(seeds, steps)
                raw[r, a, ci] = (curves - curves.mean(1, keepdims=True)) @ x / (x @ x) * 2.0
    standard = raw / spread[None, :, :, None]

    def summary(per_seed: np.ndarray) -> np.ndarray:
        return np.abs(per_seed.mean(-1)).mean(-1)

    rng = np.random.default_rng(random_state)
    boots = np.stack([summary(standard[..., rng.integers(0, seeds, seeds)]) for _ in range(bootstrap)])
    settings = {"seeds": seeds, "steps": steps, "span": span, "placebo": placebo, "spread_n": spread_n,
                "bootstrap": bootstrap, "random_state": random_state}
    return EffectMatrix(rows=rows, attributes=list(attributes), effect=summary(standard),
                        low=np.percentile(boots, 2.5, axis=0), high=np.percentile(boots, 97.5, axis=0),
                        signed=standard.mean(-1), change=summary(raw), classes=classes, k=k, settings=settings)


def code_readout(model: TrainedModel, n: int = 2048, seed: int = 0) -> np.ndarray:
    """Correlation of each read-back code ``ci'`` (rows) with each input code ``cj`` (columns) on ``n`` fresh
    fakes of every class: what the regulariser actually shapes (the discriminator's reading, not the image)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(model.class_names)).repeat(n // len(model.class_names) + 1)[:n]
    codes = sample_prior(model, n, g)
    images = model.generate(labels, codes=codes, z=torch.randn(n, model.generator.cfg.z_dim, generator=g))
    read = model.extract_codes(images, labels).numpy()
    k = model.structure.k
    return np.corrcoef(read.T, codes.numpy().T)[:k, k:]


def sample_prior(model: TrainedModel, n: int, generator: torch.Generator) -> torch.Tensor:
    from bngan.training import sample_codes

    return sample_codes(n, model.structure.k, model.config.code_prior, generator)


def attribute_coupling(images: torch.Tensor, attributes: tuple[str, ...]) -> np.ndarray:
    """|Spearman correlation| between attributes over a set of images: how much they move together anyway."""
    from scipy.stats import spearmanr

    from bngan.traversal import measure

    m = measure(images)
    table = np.stack([m[a] for a in attributes], axis=1)
    rho = spearmanr(table).statistic if len(attributes) > 2 else np.corrcoef(table.T)
    return np.abs(np.nan_to_num(np.atleast_2d(rho)))


def measure_model(model: TrainedModel, seeds: int = 16, bootstrap: int = 1000) -> dict:
    """Everything the app and ``python -m bngan effects`` show of a model (the content of effects.json)."""
    matrix = effect_matrix(model, seeds=seeds, bootstrap=bootstrap)
    return {"step": model.step, "matrix": matrix.to_dict(), "own": structure_agreement(matrix.codes, model.structure),
            "readout": np.round(code_readout(model), 4).tolist()}


# reading the matrix against the structure -------------------------------------------------------------------
def profiles(effect: np.ndarray) -> np.ndarray:
    """Each row as shares of its total effect (a row without effect is spread evenly)."""
    effect = np.abs(np.asarray(effect, dtype=float))
    total = effect.sum(1, keepdims=True)
    even = np.full_like(effect, 1.0 / effect.shape[1])
    return np.divide(effect, total, out=even, where=total > 0)


def crosstalk(effect: np.ndarray) -> np.ndarray:
    """Per row: the share of its effect outside its strongest attribute (0 = one attribute only)."""
    return 1.0 - profiles(effect).max(1)


def purity(effect: np.ndarray) -> np.ndarray:
    """Per row: 1 when one attribute takes all the effect, 0 when the effect is spread evenly."""
    n = np.asarray(effect).shape[1]
    return (profiles(effect).max(1) - 1.0 / n) / (1.0 - 1.0 / n)


def entangling_parents(structure: LatentStructure) -> dict[int, list[int]]:
    """For each code j: the other observed codes that are ancestors of ``cj'`` (empty: disentangled)."""
    graph = structure.graph()
    out = {}
    for j in range(1, structure.k + 1):
        ancestors = nx.ancestors(graph, latent(j))
        out[j] = [i for i in range(1, structure.k + 1) if i != j and observed(i) in ancestors]
    return out


def parent_reach(effect: np.ndarray, structure: LatentStructure) -> float | None:
    """The other reading of an entangling edge ``ci → cj'``: sweeping the parent ``ci`` moves what ``cj``'s
    own traversal moves. Mean over such edges of ``ci``'s effect on ``cj``'s strongest attribute relative to
    ``ci``'s own strongest effect (None when the drawing has no entangling edge)."""
    effect = np.abs(np.asarray(effect, dtype=float))[: structure.k]
    strongest = effect.argmax(1)
    shares = [effect[i - 1, strongest[j - 1]] / effect[i - 1].max()
              for j, parents in entangling_parents(structure).items() for i in parents if effect[i - 1].max() > 0]
    return float(np.mean(shares)) if shares else None


def structure_agreement(effect: np.ndarray, structure: LatentStructure) -> dict:
    """How well a codes × attributes effect matrix follows what the structure predicts.

    A code with no entangling parent is predicted to move one attribute: its score is its purity. A code
    with entangling parents is predicted to move what they move: its score is its *coverage*, the mean over
    parents ``i`` of its effect on ``i``'s strongest attribute relative to its own strongest effect. The
    agreement is the mean score over codes, in [0, 1].
    """
    effect = np.abs(np.asarray(effect, dtype=float))[: structure.k]
    if effect.shape[0] != structure.k:
        raise InvalidSettingError(f"the matrix has {effect.shape[0]} code rows, the structure {structure.k} codes")
    pure = purity(effect)
    strongest = effect.argmax(1)
    parents = entangling_parents(structure)
    per_code = []
    for j in range(1, structure.k + 1):
        row = effect[j - 1]
        if parents[j]:
            top = row.max()
            coverage = float(np.mean([row[strongest[i - 1]] for i in parents[j]]) / top) if top > 0 else 0.0
            per_code.append({"code": j, "predicts": "moves its parents' attributes", "parents": parents[j],
                             "score": coverage})
        else:
            per_code.append({"code": j, "predicts": "moves one attribute", "parents": [],
                             "score": float(pure[j - 1])})
    return {"agreement": float(np.mean([c["score"] for c in per_code])), "per_code": per_code}
