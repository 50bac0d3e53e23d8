"""DGC, the paper's strongest competitor: a PyTorch re-implementation of the deep generative classifier of
Wang, Lyu & Jing, "Deep Generative Model for Robust Imbalance Classification" (CVPR 2020).

DGC is not an oversampler but an end-to-end generative classifier, so it enters the comparison as its own
method. The released code is TensorFlow 1.x; this module is written from the method's description:

* an encoder ``q(z | x, y)`` (four stride-2 convs, one-hot label joined after the flatten), a label-free
  decoder ``p(x | z)`` and a linear classifier ``p(y | z)`` on a 64-d code with an ``N(0, I)`` prior;
* the loss ``L = R + λ·MMD + CE`` (a Wasserstein-autoencoder objective plus classification), where the MMD
  uses the inverse multiquadric kernel as in the WAE code DGC builds on;
* per iteration an encoder-only step, a joint step, then a classifier-only step on *latent* oversampling:
  minority codes are repeated (fresh ``z`` per copy), which perturbs the data where it is scarce;
* classification by Monte-Carlo: for every candidate class, encode ``(x, c)``, decode 10 draws and score
  ``-0.5·||x - x̂||² + log p(c | z)``; the class score is the log-mean-exp over the draws.

Deliberate differences from the released code are stated where they are made (test-time MMD term left out,
cross-entropy reduction an option, the oversampling step reuses the joint step's codes). ``width`` scales all
channel counts and the encoder's hidden layer (which keeps the flattened size, 4096 at width 1.0).

Cost, measured on a shared 2-core CPU (batch 100, one iteration = encoder step + joint step + classifier
step; load average 3-5, so ±50%): width 1.0 about 8-10 s per iteration with 1 or 2 threads (digits, 14
iterations: ~2-2.5 min per epoch; MNIST 4000..40 split, ~9000 images = 90 iterations: ~13-15 min per epoch,
~12 h for 50 epochs) and ~2.2 s per test image; width 0.25 about 0.6 s per iteration (digits ~9 s per epoch,
MNIST split ~1 min per epoch, ~50 min for 50 epochs) and ~0.23 s per test image (~40 min for MNIST's
10,000). Two threads did not help on the loaded machine. A GPU is the intended place for width 1.0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from bngan.evaluation.classifier import as_image_tensor

LATENT_DIM = 64
IMAGE_SIZE = 28
BASE_CHANNELS = (128, 256, 512, 1024)  # encoder convs at width 1.0; the decoder uses the top three reversed
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
LOGVAR_CLIP = 50.0
VAR_EPS = 1e-8
INIT_STD = 0.01
ADAM_BETAS = (0.5, 0.999)
PRETRAIN_MAX_STEPS = 200
PRETRAIN_BATCH = 1000
PRETRAIN_TOL = 0.1
EVAL_MEMORY_BYTES = {"cpu": 512 * 2**20, "cuda": 4 * 2**30, "mps": 1 * 2**30}  # decoder activations per chunk
CE_REDUCTIONS = ("sum", "mean")
_LossOut = tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]  # loss, its parts, μ, logvar


# ---------------------------------------------------------------------------------------------- helpers

def select_device(device: str | torch.device = "auto") -> torch.device:
    """``'auto'`` picks cuda, else mps, else cpu; anything else is passed to :class:`torch.device`."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def scaled_channels(width: float) -> tuple[int, ...]:
    """The four encoder channel counts at ``width`` (1.0 is the paper's 128..1024)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return tuple(max(1, round(c * width)) for c in BASE_CHANNELS)


def mmd_imq(a: torch.Tensor, b: torch.Tensor, scales: Sequence[float] = MMD_SCALES,
            base: float | None = None) -> torch.Tensor:
    """MMD² between samples ``a (n, d)`` and ``b (m, d)`` with the inverse multiquadric kernel.

    ``k(u, v) = C / (C + ||u - v||²)`` with ``C = base · s``, summed over ``scales``; ``base`` defaults to
    ``2·d`` (``2·d·σ²`` for the unit-variance prior), as in the WAE code DGC uses. Within-set averages are
    unbiased (diagonal left out), the cross term is the biased full average. The IMQ kernel's heavy tails
    keep gradients alive when the two samples are far apart, which a Gaussian kernel would not.
    """
    n, m = a.shape[0], b.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"mmd_imq needs at least two points in each sample, got {n} and {m}")
    base = 2.0 * a.shape[1] if base is None else float(base)
    c = base * torch.as_tensor(scales, dtype=a.dtype, device=a.device).view(-1, 1, 1)
    d_aa, d_bb, d_ab = _sq_dists(a, a), _sq_dists(b, b), _sq_dists(a, b)
    off_a = 1.0 - torch.eye(n, dtype=a.dtype, device=a.device)
    off_b = 1.0 - torch.eye(m, dtype=a.dtype, device=a.device)
    k_aa = (c / (c + d_aa) * off_a).sum() / (n * (n - 1))
    k_bb = (c / (c + d_bb) * off_b).sum() / (m * (m - 1))
    k_ab = (c / (c + d_ab)).sum() * 2.0 / (n * m)
    return k_aa + k_bb - k_ab


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances, written out (not ``cdist``) so the gradient is finite at distance 0."""
    sq = (a * a).sum(1, keepdim=True) + (b * b).sum(1).unsqueeze(0) - 2.0 * a @ b.T
    return sq.clamp_min(0.0)


def oversample_counts(class_counts: Mapping[Any, int], r: float = 0.6) -> dict[Any, int]:
    """Copies of each code per class in DGC's latent oversampling: about ``1 + r·(n_max - n_c)/n_c``.

    Rounded half up and at least one, so the majority class keeps exactly one copy; a class without
    training images gets one (it never occurs in a batch anyway).
    """
    if r < 0:
        raise ValueError(f"oversample ratio must be non-negative, got {r}")
    n_max = max(class_counts.values())
    return {c: max(1, math.floor(1.0 + r * (n_max - n) / n + 0.5)) if n > 0 else 1
            for c, n in class_counts.items()}


def _randn(shape: Sequence[int], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Seeded standard normals on ``device`` (drawn on the generator's device and moved if they differ)."""
    out = torch.randn(*shape, generator=gen, device=gen.device)
    return out if out.device == device else out.to(device)


def _device_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on the compute device when the backend has one, else on the CPU."""
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except RuntimeError:
        return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------- networks

class SamePadConv2d(nn.Module):
    """A conv with TensorFlow's "same" padding: output ``ceil(in / stride)``, the odd pad going bottom/right.

    PyTorch's symmetric padding cannot give 7 → 4 with kernel 4, stride 2 (it gives 3); TF pads (1, 2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 4, stride: int = 2) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride)

    def _pad(self, size: int) -> tuple[int, int]:
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (*self._pad(x.shape[-1]), *self._pad(x.shape[-2]))))


class Encoder(nn.Module):
    """``q(z | x, y)``: a label-free conv trunk (28 → 14 → 7 → 4 → 2), then the one-hot label joins the
    flattened features, so a test image's trunk runs once for all candidate classes."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: float = 1.0,
                 latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for cout in scaled_channels(width):
            layers += [SamePadConv2d(cin, cout), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.trunk = nn.Sequential(*layers)
        flat = cin * 2 * 2  # 4096 at width 1.0; the hidden layer keeps that size at any width
        self.hidden = nn.Linear(flat + num_classes, flat)
        self.mu = nn.Linear(flat, latent_dim)
        self.logvar = nn.Linear(flat, latent_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)

    def heads(self, features: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)`` from trunk features and a one-hot label (any leading shape)."""
        h = self.hidden(torch.cat([features, onehot], dim=-1))  # no activation, as in the description
        return self.mu(h), self.logvar(h).clamp(-LOGVAR_CLIP, LOGVAR_CLIP)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x), onehot)


class Decoder(nn.Module):
    """``p(x | z)`` without the label: 7×7 → 14×14 → 28×28, then a stride-1 "same" transposed conv."""

    def __init__(self, out_channels: int = 1, width: float = 1.0, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        _, c3, c2, c1 = scaled_channels(width)  # 1024 → 512 → 256 at width 1.0
        self.c1 = c1
        self.fc = nn.Linear(latent_dim, 7 * 7 * c1)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c1, c2, 4, 2, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.ConvTranspose2d(c2, c3, 4, 2, padding=1), nn.BatchNorm2d(c3), nn.ReLU(),
        )
        self.out = nn.ConvTranspose2d(c3, out_channels, 4, 1)  # 28 → 31, cropped TF-style below

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z)).view(-1, self.c1, 7, 7)
        # TF's stride-1 "same" transpose is the adjoint of a conv padded (1, 2): crop [1 : -2].
        return torch.sigmoid(self.out(self.up(h))[..., 1:-2, 1:-2])


class DGCNet(nn.Module):
    """The three parts together; the classifier ``p(y | z)`` is one linear layer on the code."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: float = 1.0,
                 latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.encoder = Encoder(num_classes, in_channels, width, latent_dim)
        self.decoder = Decoder(in_channels, width, latent_dim)
        self.classifier = nn.Linear(latent_dim, num_classes)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Weights ``N(0, 0.01)`` and zero biases as in the released code; BatchNorm keeps (1, 0)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, INIT_STD, generator=generator)
                nn.init.zeros_(module.bias)


def sample_codes(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``z = μ + ε·sqrt(exp(logvar) + 1e-8)``; the epsilon keeps the square root differentiable."""
    return mu + _randn(mu.shape, gen, mu.device) * torch.sqrt(torch.exp(logvar) + VAR_EPS)


# ---------------------------------------------------------------------------------------------- estimator

class DGCClassifier(ClassifierMixin, BaseEstimator):
    """DGC as an sklearn-style classifier: ``fit(images, labels)``, ``predict``, ``predict_log_proba``.

    Images are ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` floats in [0, 1] (tensor or array; other sizes are
    resized to 28, uint8 is divided by 255). Defaults follow the paper: Adam(lr 1e-5, β1 0.5), batch 100,
    50 epochs, λ = 1, r = 0.6, 10 draws per class at test time. ``width`` scales every channel count
    (1.0 = 128..1024; CPU runs want e.g. 0.25). ``max_steps`` / ``time_budget_s`` cut training short;
    ``progress`` is called with a dict after every epoch and when training stops.

    ``ce_reduction='sum'`` follows the released code, which sums the cross-entropy over the batch (so it
    weighs ~100× more against R and MMD than a mean would); ``'mean'`` is the alternative.

    Attributes after ``fit``: ``classes_``, ``model_``, ``class_counts_``, ``repeat_counts_``,
    ``history_`` (one dict of losses per iteration), ``pretrain_steps_``, ``steps_``, ``epochs_``
    (completed), ``fit_seconds_``, ``stopped_early_``, ``device_``, ``seed_``.
    """

    def __init__(self, epochs: int = 50, batch_size: int = 100, lr: float = 1e-5, mmd_weight: float = 1.0,
                 ce_reduction: str = "sum", oversample_ratio: float = 0.6, num_draws: int = 10,
                 device: str = "auto", random_state: int | None = None, width: float = 1.0,
                 max_steps: int | None = None, time_budget_s: float | None = None,
                 progress: Callable[[dict], None] | None = None) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.mmd_weight = mmd_weight
        self.ce_reduction = ce_reduction
        self.oversample_ratio = oversample_ratio
        self.num_draws = num_draws
        self.device = device
        self.random_state = random_state
        self.width = width
        self.max_steps = max_steps
        self.time_budget_s = time_budget_s
        self.progress = progress

    # -- fitting

    def fit(self, images: Any, labels: Any = None) -> DGCClassifier:
        """Train on images and labels (an :class:`~bngan.data.datasets.ImageDataset` alone also works)."""
        if labels is None and hasattr(images, "images") and hasattr(images, "labels"):
            images, labels = images.images, images.labels
        if labels is None:
            raise ValueError("fit needs labels")
        self._check_params()
        x = to_images(images)
        y_raw = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
        if len(y_raw) != len(x):
            raise ValueError(f"{len(x)} images but {len(y_raw)} labels")
        self.classes_, y_idx = np.unique(y_raw, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("DGC needs at least two classes")
        seed = self.seed_ = self._seed()
        cpu_gen = torch.Generator().manual_seed(seed)
        device = select_device(self.device)
        self.device_ = device
        self._gen = _device_generator(device, seed + 1)
        k = len(self.classes_)
        counts = np.bincount(y_idx, minlength=k)
        self.class_counts_ = {self.classes_[i].item(): int(n) for i, n in enumerate(counts)}
        repeats = oversample_counts(dict(enumerate(counts.tolist())), self.oversample_ratio)
        self.repeat_counts_ = {self.classes_[i].item(): n for i, n in repeats.items()}

        self.model_ = DGCNet(k, x.shape[1], self.width)
        self.model_.reset_parameters(cpu_gen)
        self.model_.to(device).train()
        x_dev, y_dev = x.to(device), torch.as_tensor(y_idx, dtype=torch.long, device=device)
        repeat_t = torch.tensor([repeats[i] for i in range(k)], device=device)
        self.history_: list[dict[str, float]] = []
        start = time.perf_counter()
        try:
            self.pretrain_steps_ = self._pretrain(x_dev, y_dev, cpu_gen)
            self._train(x_dev, y_dev, repeat_t, cpu_gen, start)
        finally:
            del self._gen  # only needed while training; keeps the fitted estimator picklable
        self.fit_seconds_ = time.perf_counter() - start
        self.model_.eval()
        return self

    def _check_params(self) -> None:
        if self.ce_reduction not in CE_REDUCTIONS:
            raise ValueError(f"ce_reduction must be one of {CE_REDUCTIONS}, got {self.ce_reduction!r}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (the MMD needs two codes)")
        if self.num_draws < 1:
            raise ValueError("num_draws must be at least 1")
        scaled_channels(self.width)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        return int(self.random_state)

    def _optimizer(self, params: Any) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=self.lr, betas=ADAM_BETAS)

    def _pretrain(self, x: torch.Tensor, y: torch.Tensor, cpu_gen: torch.Generator) -> int:
        """Match the codes' mean and covariance to the prior's (encoder only) until the loss is < 0.1.

        As in the WAE code: element-averaged squared differences to a fresh prior sample. With the
        ``N(0, 0.01)`` initialisation the codes start close to the prior, so this often stops at once.
        """
        enc = self.model_.encoder
        opt = self._optimizer(enc.parameters())
        k = self.model_.num_classes
        for step in range(PRETRAIN_MAX_STEPS):
            idx = torch.randperm(len(x), generator=cpu_gen)[:PRETRAIN_BATCH].to(x.device)
            z = sample_codes(*enc(x[idx], F.one_hot(y[idx], k).float()), self._gen)
            loss = _moment_loss(z, _randn(z.shape, self._gen, z.device))
            if loss.item() < PRETRAIN_TOL:
                return step
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return PRETRAIN_MAX_STEPS

    def _train(self, x: torch.Tensor, y: torch.Tensor, repeats: torch.Tensor, cpu_gen: torch.Generator,
               start: float) -> None:
        model = self.model_
        opt_enc = self._optimizer(model.encoder.parameters())
        opt_all = self._optimizer(model.parameters())
        opt_cls = self._optimizer(model.classifier.parameters())
        n = len(x)
        batch = min(self.batch_size, n)
        per_epoch = max(1, n // batch)  # the incomplete last batch is dropped: full batches for MMD and BN
        self.steps_, self.epochs_, self.stopped_early_ = 0, 0, False
        for _ in range(self.epochs):
            first = len(self.history_)
            order = torch.randperm(n, generator=cpu_gen).to(x.device)
            for b in range(per_epoch):
                idx = order[b * batch:(b + 1) * batch]
                self.history_.append(self._iteration(x[idx], y[idx], repeats, opt_enc, opt_all, opt_cls))
                self.steps_ += 1
                if self.steps_ < self.epochs * per_epoch and self._out_of_budget(start):
                    self.stopped_early_ = True
                    break
            self.epochs_ = self.steps_ // per_epoch  # completed epochs
            self._report(start, first)
            if self.stopped_early_:
                return

    def _out_of_budget(self, start: float) -> bool:
        if self.max_steps is not None and self.steps_ >= self.max_steps:
            return True
        return self.time_budget_s is not None and time.perf_counter() - start >= self.time_budget_s

    def _report(self, start: float, first: int) -> None:
        """Call ``progress`` with this epoch's mean losses and where training stands."""
        recent = self.history_[first:]
        if self.progress is None or not recent:
            return
        info = {key: float(np.mean([h[key] for h in recent])) for key in recent[-1]}
        info.update(epoch=self.epochs_, step=self.steps_, elapsed_s=time.perf_counter() - start,
                    stopped_early=self.stopped_early_)
        self.progress(info)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> _LossOut:
        """``L = R + λ·MMD + CE`` on one batch, with its parts and the batch's ``(μ, logvar)``."""
        model = self.model_
        mu, logvar = model.encoder(x, F.one_hot(y, model.num_classes).float())
        z = sample_codes(mu, logvar, self._gen)
        recon = 0.5 * (x - model.decoder(z)).pow(2).flatten(1).sum(1).mean()
        mmd = mmd_imq(z, _randn(z.shape, self._gen, z.device))
        ce = F.cross_entropy(model.classifier(z), y, reduction=self.ce_reduction)
        loss = recon + self.mmd_weight * mmd + ce
        parts = {"loss": loss.item(), "recon": recon.item(), "mmd": mmd.item(), "ce": ce.item()}
        return loss, parts, mu, logvar

    def _iteration(self, x: torch.Tensor, y: torch.Tensor, repeats: torch.Tensor, opt_enc: torch.optim.Adam,
                   opt_all: torch.optim.Adam, opt_cls: torch.optim.Adam) -> dict[str, float]:
        """Encoder-only step on L, joint step on L, classifier-only step on latent-oversampled codes.

        The oversampling step reuses the joint step's ``(μ, logvar)`` (detached, i.e. held fixed) rather
        than encoding the batch a third time: one encoder pass less, and BatchNorm statistics are not
        updated a third time per iteration.
        """
        model = self.model_
        loss, _, _, _ = self._loss(x, y)
        _step(loss, opt_enc, model.encoder.parameters())
        loss, parts, mu, logvar = self._loss(x, y)
        _step(loss, opt_all, model.parameters())
        rep_mu, rep_logvar, rep_y = (t.detach().repeat_interleave(repeats[y], dim=0) for t in (mu, logvar, y))
        z = sample_codes(rep_mu, rep_logvar, self._gen)
        ce_os = F.cross_entropy(model.classifier(z), rep_y, reduction=self.ce_reduction)
        _step(ce_os, opt_cls, model.classifier.parameters())
        parts["ce_oversampled"] = ce_os.item()
        return parts

    # -- prediction

    @torch.no_grad()
    def class_scores(self, images: Any) -> np.ndarray:
        """Per-class scores ``(N, K)``: log-mean-exp over draws of ``-0.5·||x - x̂||² + log p(c | z)``.

        The released code also adds an MMD term at test time, computed over the test batch, which makes an
        image's prediction depend on which other images share its batch; it is left out here, so no score
        depends on another image (only the draws, seeded from ``random_state``, follow the batch order).
        """
        self._check_fitted()
        x = to_images(images)
        model, device = self.model_.eval(), self.device_
        gen = _device_generator(device, self.seed_ + 2)  # the same images get the same scores
        chunk = self._eval_chunk(x.shape[1])
        scores = [self._score_chunk(x[i:i + chunk].to(device), gen) for i in range(0, len(x), chunk)]
        return torch.cat(scores).cpu().numpy() if scores else np.zeros((0, model.num_classes))

    def _score_chunk(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """All candidate classes and draws of a chunk in one encoder-trunk pass and one decoder pass."""
        model, k, d = self.model_, self.model_.num_classes, self.num_draws
        b = len(x)
        feats = model.encoder.features(x)  # the trunk does not see the label: once per image
        onehot = torch.eye(k, device=x.device).expand(b, k, k)
        mu, logvar = model.encoder.heads(feats.unsqueeze(1).expand(b, k, feats.shape[1]), onehot)
        z = sample_codes(mu.unsqueeze(2).expand(b, k, d, mu.shape[-1]),
                         logvar.unsqueeze(2).expand(b, k, d, mu.shape[-1]), gen)  # (b, k, d, latent)
        x_hat = model.decoder(z.reshape(-1, z.shape[-1])).view(b, k, d, *x.shape[1:])
        recon = -0.5 * (x[:, None, None] - x_hat).pow(2).flatten(3).sum(-1)  # (b, k, d)
        log_p = F.log_softmax(model.classifier(z), dim=-1)  # (b, k, d, k): log p(· | z drawn for class c)
        log_pc = torch.diagonal(log_p, dim1=1, dim2=3).permute(0, 2, 1)  # (b, k, d): log p(c | z_c)
        return torch.logsumexp(recon + log_pc, dim=2) - math.log(d)

    def _eval_chunk(self, channels: int) -> int:
        """Images per scoring chunk, so that the decoder's activations stay within a fixed budget."""
        c2 = scaled_channels(self.width)[1]
        per_decode = 4 * 3 * (IMAGE_SIZE**2 * c2 + (IMAGE_SIZE // 2) ** 2 * 2 * c2 + IMAGE_SIZE**2 * channels)
        per_image = per_decode * self.model_.num_classes * self.num_draws
        budget = EVAL_MEMORY_BYTES.get(self.device_.type, EVAL_MEMORY_BYTES["cpu"])
        return max(1, budget // per_image)

    def predict_log_proba(self, images: Any) -> np.ndarray:
        """Class scores normalised over the classes (a posterior under a uniform class prior)."""
        s = torch.from_numpy(self.class_scores(images))
        return torch.log_softmax(s, dim=1).numpy()

    def predict_proba(self, images: Any) -> np.ndarray:
        return np.exp(self.predict_log_proba(images))

    def predict(self, images: Any) -> np.ndarray:
        """The argmax class score, as the original labels."""
        self._check_fitted()
        return self.classes_[self.class_scores(images).argmax(axis=1)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("DGCClassifier is not fitted yet: call fit(images, labels) first")


def _moment_loss(z: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the means plus of the covariances (WAE's encoder pre-training loss)."""
    mz, mp = z.mean(0, keepdim=True), prior.mean(0, keepdim=True)
    cz = (z - mz).T @ (z - mz) / (len(z) - 1)
    cp = (prior - mp).T @ (prior - mp) / (len(prior) - 1)
    return (mz - mp).pow(2).mean() + (cz - cp).pow(2).mean()


def _step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, params: Any) -> None:
    """One step on ``params`` only: gradients of the others are never computed (``autograd.grad``)."""
    params = list(params)
    grads = torch.autograd.grad(loss, params)
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()


def to_images(images: Any) -> torch.Tensor:
    """``(N, C, 28, 28)`` float32 in [0, 1] on the CPU from a tensor or array ``(N, [C,] H, W)``."""
    if hasattr(images, "images") and isinstance(images.images, torch.Tensor):
        images = images.images
    x = as_image_tensor(images.detach().cpu() if isinstance(images, torch.Tensor) else np.asarray(images))
    if x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        from bngan.data.datasets import resize

        x = resize(x, IMAGE_SIZE)
    return x.contiguous()
