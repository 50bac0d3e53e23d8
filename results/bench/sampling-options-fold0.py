"""Sampling options on MNIST fold 0 with the 6000-step model that was the default until 2026-12-04.

Discriminator filtering (keep the best 1 of 3 candidates by the class head ``cls`` or by the class-conditional
``adv`` score), with and without a share of real copies; same CNN budget as Table 1. Run from the repository
root, after training that model into runs/default-6000 (the command in assets/default/README.md with
``--steps 6000 --out runs/default-6000``): ``OMP_NUM_THREADS=2 python results/bench/sampling-options-fold0.py``.
Output: sampling-options-fold0.txt.
"""

import numpy as np
import torch

from bngan.data import Imbalance, load_dataset, make_imbalanced
from bngan.evaluation.classifier import predict, train_classifier
from bngan.evaluation.metrics import classification_metrics
from bngan.training import TrainedModel

torch.set_num_threads(2)
MODEL = TrainedModel.load("runs/default-6000/checkpoint.pt")
TRAIN = make_imbalanced(load_dataset("mnist"), Imbalance("standard"), seed=0)
TEST = load_dataset("mnist", train=False)
X, labels = TRAIN.images.numpy(), TRAIN.labels.numpy()
COUNTS = TRAIN.class_counts()


@torch.no_grad()
def synthetic(label: int, n: int, score: str, seed: int) -> np.ndarray:
    """The best ``n`` of ``3n`` generated images by the discriminator's ``score`` head."""
    pool = MODEL.generate(torch.full((3 * n,), label), seed=seed)
    out = MODEL.discriminator(pool * 2 - 1, torch.full((3 * n,), label))
    value = out["cls"].log_softmax(1)[:, label] if score == "cls" else out["adv"].flatten()
    return pool[value.argsort(descending=True)[:n]].numpy()


def run(name: str, score: str, real_share: float) -> None:
    rng = np.random.default_rng(0)
    xs, ys = [X], [labels]
    for label, n in COUNTS.items():
        add = max(COUNTS.values()) - n
        if add <= 0:
            continue
        copies = round(add * real_share)
        xs.append(X[rng.choice(np.flatnonzero(labels == label), size=copies)])
        if add > copies:
            xs.append(synthetic(label, add - copies, score, 1000 + label))
        ys.append(np.full(add, label))
    net = train_classifier(np.concatenate(xs), np.concatenate(ys), 10, steps=1128, seed=0, device="cpu")
    m = classification_metrics(TEST.labels.numpy(), predict(net, TEST.images), 10)
    row = {"r8": m["recall"][8], "f8": m["f1"][8], "r9": m["recall"][9], "f9": m["f1"][9], "mf": m["macro_f1"]}
    print(name, {k: round(float(v), 3) for k, v in row.items()}, flush=True)


for args in [("cls", "cls", 0.0), ("adv", "adv", 0.0), ("mix-cls", "cls", 0.5), ("mix-adv", "adv", 0.5),
             ("mix.3-cls", "cls", 0.3), ("mix.7-cls", "cls", 0.7)]:
    run(*args)
