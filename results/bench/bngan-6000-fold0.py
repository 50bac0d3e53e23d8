"""Fold 0 of the MNIST standard split, oversampled with the 6000-step default model (trained on that split)."""
import json, time
import numpy as np, torch
torch.set_num_threads(1)
from bngan.data import load_dataset, make_imbalanced, Imbalance
from bngan.sampler import BNGANOversampler
from bngan.evaluation.classifier import train_classifier, predict
from bngan.evaluation.metrics import classification_metrics
train = make_imbalanced(load_dataset("mnist"), Imbalance("standard"), seed=0)
test = load_dataset("mnist", train=False)
X, y = train.images.numpy(), train.labels.numpy()
out = {}
for name, strategy in [("bngan-6000-auto", "auto"), ("bngan-6000-half", {c: max(n, 2000) for c, n in train.class_counts().items()})]:
    t = time.time()
    Xr, yr = BNGANOversampler(checkpoint="assets/default/checkpoint.pt", sampling_strategy=strategy, random_state=0, device="cpu").fit_resample(X, y)
    model = train_classifier(Xr, yr, 10, steps=1128, seed=0, device="cpu")
    m = classification_metrics(test.labels.numpy(), predict(model, test.images), 10)
    out[name] = {"n": len(yr), "recall8": m["recall"][8], "f1_8": m["f1"][8], "recall9": m["recall"][9], "f1_9": m["f1"][9], "macro_f1": m["macro_f1"], "acsa": m["balanced_accuracy"], "g_mean": m["g_mean"], "seconds": time.time() - t}
    print(name, json.dumps({k: round(v, 3) for k, v in out[name].items()}), flush=True)
json.dump(out, open("results/bench/bngan-6000-fold0.json", "w"), indent=2)
