"""Figure 4b: the FactorVAE score and MIG of InfoGAN and bngan on dSprites with a minority shape.

Modules: :mod:`.settings` (validated settings, grid, fingerprints), :mod:`.cells` (training and scoring a cell,
running, the app job), :mod:`.report` (aggregation and reports; torch-free), :mod:`.sprites` (what a code does
to generated sprites, for the app's traversals), :mod:`.cli`.
"""
