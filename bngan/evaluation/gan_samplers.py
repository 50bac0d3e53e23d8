"""The GAN rows of the comparison, registered into :data:`bngan.evaluation.baselines.OVERSAMPLERS`.

Every GAN row is the same :class:`bngan.sampler.BNGANOversampler` (same networks, optimiser, batches and
class conditioning); only the regulariser and the latent structure differ, so a difference between two rows
is the regulariser's doing:

* ``bngan`` — the Bayesian regulariser (Eq. 6) with the *disentangled* structure ``c_i -> c'_i`` (Fig. 4a);
* ``bngan-entangled`` — the same with ``c'_3`` also a child of ``c_1, c_2`` (Fig. 4c);
* ``bngan-reference`` — the structure of the released code (``c'_4`` a child of every ``c_j``);
* ``bngan-mix`` — ``bngan``'s generator, but half of the added images are copies of real minority images
  (``real_share=0.5``) and each synthetic one is the most realistic of 3 draws by the discriminator
  (``candidates=3``): synthetic images alone lost to plain copies on MNIST (RESULTS.md);
* ``bngan-trunc`` — ``bngan``'s generator sampled with the noise truncated at ±1 (``truncation=1.0``):
  more typical, less varied images;
* ``bngan-da``, ``bngan-ema``, ``bngan-hinge-sn``, ``bngan-lecam`` — ``bngan`` trained with one
  data-efficient option (DiffAugment; a 0.999 moving average of G; hinge loss with spectral norm; LeCam
  at 0.1), and ``bngan-de`` with DiffAugment, the average and LeCam together: the ablation's rows;
* ``bngan-aug``, ``bngan-mix-aug`` — ``bngan`` and ``bngan-mix`` whose CNN also trains on randomly
  transformed batches, as ``ros-aug`` does: synthesis on top of what practitioners already do;
* ``bngan-minority-aug`` — ``bngan-mix-aug``'s images for the table's minority classes only
  (``minority_classes``, passed by the experiment); the other oversampled classes get real copies, as in
  ``ros-aug``: on Fashion-MNIST synthetic images of the middle classes cost macro-F1 (RESULTS.md);
* ``infogan-mix`` — the same sampling from ``infogan``'s generator, so that ``bngan-mix`` vs ``infogan-mix``
  isolates the regulariser again;
* ``infogan`` — InfoGAN's mutual-information loss on continuous codes, ``Σ_i MSE(c'_i, c_i)``
  (``reg_mode="infogan"``), class-conditioned like the others: the paper's InfoGAN baseline without the
  unsupervised class code that docs/method.md found mislabelled in the reference.

Importing this module registers the names (once; importing it again is harmless). The training budget
and the other GAN settings are keyword options of each factory (``steps``, ``batch_size``, ``preset``,
``device``, ``lambda_reg``, ``k``, ``verbose``): the experiment runner passes ``--gan-steps`` etc. to the
names in :data:`GAN_METHODS` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bngan.errors import InvalidSettingError
from bngan.evaluation.baselines import OVERSAMPLERS, OversamplerFactory, register_oversampler
from bngan.evaluation.gan_methods import (  # re-exported: the rows' definitions live there, torch-free
    GAN_METHODS,
    GAN_OPTIONS,
    SAMPLING_SETTINGS,
    is_gan,
    sampler_settings,
    training_settings,
)

__all__ = ["GAN_METHODS", "GAN_OPTIONS", "SAMPLING_SETTINGS", "gan_factory", "is_gan", "register_gan_samplers",
           "training_settings"]


def gan_factory(name: str) -> OversamplerFactory:
    """A factory ``(random_state, sampling_strategy, **options) -> BNGANOversampler`` for method ``name``."""
    settings = sampler_settings(name)
    synthesize = settings.pop("synthesize", "all")

    def factory(random_state: Any = 0, sampling_strategy: Any = "auto", **options: Any) -> Any:
        from bngan.sampler import BNGANOversampler  # lazily: the models are only needed when a row runs

        unknown = sorted(set(options) - set(GAN_OPTIONS))
        if unknown:
            raise InvalidSettingError(f"{name} does not take option(s) {', '.join(unknown)}; "
                                      f"allowed: {', '.join(GAN_OPTIONS)}")
        minority = options.pop("minority_classes", None)
        if synthesize == "minority":
            if minority is None:
                raise InvalidSettingError(f"{name} synthesises only the minority classes: pass "
                                          "minority_classes=[...] (the experiment passes its table's classes)")
            options["synthetic_classes"] = [int(c) for c in minority]
        return BNGANOversampler(sampling_strategy=sampling_strategy, random_state=random_state,
                                **settings, **options)

    factory.__doc__ = f"BNGANOversampler with {settings} (options: {', '.join(GAN_OPTIONS)})."
    return factory


def register_gan_samplers(register: Callable[..., None] = register_oversampler) -> None:
    """Register every GAN row that is not registered yet (so importing twice, or reloading, is harmless)."""
    for name in GAN_METHODS:
        if name not in OVERSAMPLERS:
            register(name, gan_factory(name))


register_gan_samplers()
