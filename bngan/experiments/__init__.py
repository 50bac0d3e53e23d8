"""Experiments: grids of independent, fingerprinted cells, their reports, and running them as app jobs.

- :mod:`bngan.experiments.core`: what every experiment shares: :class:`~bngan.experiments.core.Cell`, the grid
  and its shards, one :func:`~bngan.experiments.core.fingerprint` computed from the settings' own fields, the
  atomic :class:`~bngan.experiments.core.CellStore`, :func:`~bngan.experiments.core.run_cells` and
  :func:`~bngan.experiments.core.start_job`, the only adapter from a run to an app job.
- :mod:`bngan.experiments.stats`: mean ± std, paired t-tests against a reference row, formatting.
- :mod:`bngan.experiments.table1`: Table 1 and the IR sweep of Figure 3 (classifiers on oversampled data).
- :mod:`bngan.experiments.disentangle`: Figure 4b (FactorVAE score and MIG on dSprites).
- :mod:`bngan.experiments.migrate`: the one-time rewrite of results written before fingerprints were
  computed this way.

Each experiment has ``settings`` (validated, torch-free), ``cells`` (the computation; torch inside its
functions), ``report`` (aggregation and reports; never imports torch, so app pages paint before torch loads)
and ``cli``.
"""
