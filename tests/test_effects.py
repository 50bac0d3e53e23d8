"""The effect matrix and the structure agreement: on constructed matrices and on a drawn 'generator' whose
codes are known to control stroke thickness and slant."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skimage.draw import line
from skimage.morphology import dilation, disk

from bngan.effects import (
    EffectMatrix,
    crosstalk,
    effect_matrix,
    entangling_parents,
    purity,
    structure_agreement,
)
from bngan.structure import LatentStructure

DISENTANGLED = LatentStructure.preset("disentangled", 3)
ENTANGLED = LatentStructure.preset("entangled", 3)


def test_crosstalk_and_purity_on_constructed_rows():
    rows = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0], [3.0, 1.0, 0.0]])
    assert crosstalk(rows) == pytest.approx([0.0, 2 / 3, 0.25])
    assert purity(rows) == pytest.approx([1.0, 0.0, (0.75 - 1 / 3) / (2 / 3)])


def test_entangling_parents_follow_the_drawing_through_latent_chains():
    assert entangling_parents(DISENTANGLED) == {1: [], 2: [], 3: []}
    assert entangling_parents(ENTANGLED) == {1: [], 2: [], 3: [1, 2]}
    chain = LatentStructure.from_json({"k": 3, "edges": [["c1", "c1'"], ["c2", "c2'"], ["c1'", "c3'"],
                                                         ["c3", "c3'"]]})
    assert entangling_parents(chain)[3] == [1]


def test_agreement_prefers_the_matrix_the_structure_predicts():
    clean = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])  # each code its own attribute
    mixed = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.9, 0.8, 1.0]])  # c3 also moves c1's and c2's attributes
    assert structure_agreement(clean, DISENTANGLED)["agreement"] == pytest.approx(1.0)
    assert structure_agreement(mixed, ENTANGLED)["agreement"] == pytest.approx((1 + 1 + 0.85) / 3)
    # the same score ranks the two matrices opposite ways under the two drawings
    assert structure_agreement(mixed, ENTANGLED)["agreement"] > structure_agreement(clean, ENTANGLED)["agreement"]
    assert structure_agreement(clean, DISENTANGLED)["agreement"] > structure_agreement(mixed, DISENTANGLED)[
        "agreement"]
    with pytest.raises(ValueError, match="3 codes"):
        structure_agreement(clean[:2], ENTANGLED)


class DrawnStrokes:
    """A stand-in generator that draws one stroke per image: c1 sets its thickness, c2 its slant, c3 nothing;
    the noise moves the stroke's length a little (so there is natural spread)."""

    def __init__(self) -> None:
        self.generator = SimpleNamespace(cfg=SimpleNamespace(z_dim=4))
        self.structure = DISENTANGLED
        self.class_names = ["a", "b"]
        self.config = SimpleNamespace(dataset="mnist", code_prior="normal")

    def generate(self, labels, codes=None, z=None, seed=None):
        n = len(labels)
        g = torch.Generator().manual_seed(seed or 0)
        codes = torch.randn(n, 3, generator=g) if codes is None else codes
        z = torch.randn(n, 4, generator=g) if z is None else z
        out = torch.zeros(n, 1, 28, 28)
        for i in range(n):
            half = int(np.clip(8 + 1.5 * float(z[i, 0]), 5, 11))
            lean = float(codes[i, 1]) * 2.0
            rr, cc = line(14 - half, int(np.clip(14 + lean, 2, 25)), 14 + half, int(np.clip(14 - lean, 2, 25)))
            img = np.zeros((28, 28), bool)
            img[rr, cc] = True
            radius = int(np.clip(round(1.5 + float(codes[i, 0]) * 0.6), 0, 3))
            out[i, 0] = torch.from_numpy(dilation(img, disk(radius)).astype(np.float32))
        return out


def test_effect_matrix_recovers_known_controls():
    matrix = effect_matrix(DrawnStrokes(), attributes=("thickness", "slant", "height"), seeds=6, steps=5,
                           placebo=1, spread_n=64, bootstrap=200)
    assert matrix.rows == ["c1", "c2", "c3", "z·u1"] and matrix.effect.shape == (4, 3)
    thickness, slant = matrix.attributes.index("thickness"), matrix.attributes.index("slant")
    assert matrix.codes[0].argmax() == thickness and matrix.codes[1].argmax() == slant
    assert matrix.codes[2].max() < 0.05  # c3 is not drawn: no effect at all
    assert matrix.codes[0, thickness] > 5 * matrix.codes[1, thickness]
    assert np.all(matrix.low <= matrix.effect + 1e-9) and np.all(matrix.effect <= matrix.high + 1e-9)
    assert matrix.signed[0, thickness].min() > 0  # thicker with c1 in every class
    again = EffectMatrix.from_dict(matrix.to_dict())
    assert again.rows == matrix.rows and np.allclose(again.effect, matrix.effect, atol=1e-4)


def test_effect_matrix_of_a_trained_model(tiny_config, tmp_path):
    from bngan.training import TrainedModel, Trainer

    trainer = Trainer(tiny_config)
    trainer.run()
    path = trainer.save(tmp_path / "checkpoint.pt")
    model = TrainedModel.load(path)
    matrix = effect_matrix(model, classes=[0, 1], seeds=3, steps=3, bootstrap=50)
    assert matrix.effect.shape == (model.structure.k + 2, 5) and np.isfinite(matrix.effect).all()
    assert matrix.attributes == ["thickness", "slant", "ink", "width", "height"]  # digits: the digit measures


def test_code_readout_correlates_read_codes_with_input_codes(tiny_config, tmp_path):
    from bngan.effects import code_readout
    from bngan.training import TrainedModel, Trainer

    trainer = Trainer(tiny_config)
    trainer.run()
    model = TrainedModel.load(trainer.save(tmp_path / "checkpoint.pt"))
    readout = code_readout(model, n=256)
    assert readout.shape == (3, 3) and np.all(np.abs(readout) <= 1 + 1e-9)
    assert np.allclose(readout, code_readout(model, n=256))  # seeded


def test_parent_reach_reads_the_entangling_edge_the_other_way():
    from bngan.effects import parent_reach

    reached = np.array([[1.0, 0, 0.8], [0, 1.0, 0.6], [0, 0, 1.0]])  # c1, c2 also move c3's attribute
    assert parent_reach(reached, ENTANGLED) == pytest.approx(0.7)
    assert parent_reach(np.eye(3), ENTANGLED) == 0.0
    assert parent_reach(reached, DISENTANGLED) is None  # no entangling edge to read
