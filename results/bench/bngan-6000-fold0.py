"""Budget check: fold 0 of the MNIST standard split oversampled with the 6000-step default model.

The default model of the time (assets/default/ until 2026-12-04, now an 8000-step model) was trained by the CLI
on this very split (seed 0) for 6000 steps. To rerun, train it again from the repository root (the command in
assets/default/README.md with ``--steps 6000 --out runs/default-6000``), then
``OMP_NUM_THREADS=1 python results/bench/bngan-6000-fold0.py``.
"""

import json
import time

import torch

from bngan.data import Imbalance, load_dataset, make_imbalanced
from bngan.evaluation.classifier import predict, train_classifier
from bngan.evaluation.metrics import classification_metrics
from bngan.sampler import BNGANOversampler

CHECKPOINT = "runs/default-6000/checkpoint.pt"


def evaluate(train, test, strategy, real_share: float = 0.0) -> dict:
    start = time.time()
    sampler = BNGANOversampler(checkpoint=CHECKPOINT, sampling_strategy=strategy, random_state=0, device="cpu",
                               real_share=real_share)
    images, labels = sampler.fit_resample(train.images.numpy(), train.labels.numpy())
    model = train_classifier(images, labels, 10, steps=1128, seed=0, device="cpu")
    m = classification_metrics(test.labels.numpy(), predict(model, test.images), 10)
    return {"n": len(labels), "recall8": m["recall"][8], "f1_8": m["f1"][8], "recall9": m["recall"][9],
            "f1_9": m["f1"][9], "macro_f1": m["macro_f1"], "acsa": m["balanced_accuracy"], "g_mean": m["g_mean"],
            "seconds": time.time() - start}


def main() -> None:
    torch.set_num_threads(2)
    train = make_imbalanced(load_dataset("mnist"), Imbalance("standard"), seed=0)
    test = load_dataset("mnist", train=False)
    half = {c: max(n, 2000) for c, n in train.class_counts().items()}
    out = {}
    runs = (("bngan-6000-auto", "auto", 0.0), ("bngan-6000-half", half, 0.0), ("bngan-6000-mix", "auto", 0.5))
    for name, strategy, real_share in runs:
        out[name] = evaluate(train, test, strategy, real_share)
        print(name, json.dumps({k: round(v, 3) for k, v in out[name].items()}), flush=True)
    with open("results/bench/bngan-6000-fold0.json", "w") as handle:
        json.dump(out, handle, indent=2)


if __name__ == "__main__":
    main()
