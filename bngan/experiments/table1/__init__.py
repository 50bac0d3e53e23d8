"""Table 1 (methods × minority classes) and Figure 3 (minority scores against IR) of docs/evaluation.md.

An experiment is a grid of cells, one per (data set, imbalance setting, fold, method). A fold is an
independent seeded draw of the imbalanced training subset (``make_imbalanced(..., seed=fold)``); every cell of
a fold sees the same images and trains the same CNN (same seed, same number of optimiser steps) on the
method's output, then predicts the full official test set. Only the oversampler differs between rows.

Choices worth knowing:

* Classifier budget: by default a fixed number of optimiser steps for every row, 8 epochs of the imbalanced
  split (``8 × ceil(n / 64)``; ≈ 1130 steps on the MNIST standard split). At a fixed *epoch* count a set
  balanced to 40,000 images would get 4.4× the updates of the 9,000 images it came from, and an undertrained
  "no oversampling" CNN would look worse than it is. ``--classifier-epochs`` restores the epoch schedule.
* Figure 3 sweep: the paper "chooses specific classes as the minority and removes samples from those classes
  until IR (largest / smallest class) reaches a threshold", with 6 IRs from 50 to 500. So the sweep uses the
  ``minority`` protocol: classes 8 and 9 keep ``largest / IR`` images, every other class stays whole, at
  IR 50, 100, 200, 300, 400, 500 (``--irs`` changes them). It is not the standard 4000..40 profile rescaled.
* Table columns: recall and F1 of each minority class (the standard split's 8 and 9: MNIST "8"/"9",
  Fashion-MNIST "Bag"/"Ankle boot"), macro-F1, balanced accuracy (ACSA) and G-mean, as mean ± std over
  folds, with a two-sided paired t-test (pairs = folds) against the reference row (``bngan``).
* GAN rows that differ only in how they sample (``bngan`` and ``bngan-mix``) share one trained generator per
  fold (see :mod:`.cells`).
* DGC is an end-to-end classifier, not an oversampler: its row replaces the CNN by DGC.
* ``sampling_strategy``: imbalanced-learn's strings, or a fraction ``f`` in (0, 1] that grows every class to
  at least ``f`` × the largest class (partial balancing; imbalanced-learn's own float form is binary-only).
* ``--quality`` adds fidelity / FID / precision-recall-density-coverage of the *added* images (judge CNN's
  feature space) to every row that adds images; "ros" duplicates real images, so its numbers are a ceiling.

Modules: :mod:`.settings` (validated settings, grid, fingerprints), :mod:`.cells` (computing cells, running,
the app job), :mod:`.report` (aggregation, t-tests, reports; torch-free), :mod:`.cli`.
"""
