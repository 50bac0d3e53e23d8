"""Device choice: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import torch

from bngan.errors import InvalidSettingError

DEVICES = ("auto", "cuda", "mps", "cpu")


def resolve_device(name: str = "auto") -> torch.device:
    """The device to train on; asking for one that is not there is an error that says what is."""
    if name not in DEVICES:
        raise InvalidSettingError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise InvalidSettingError("CUDA was asked for but no CUDA GPU is available here; use device 'auto' or 'cpu'")
    if name == "mps" and not mps:
        raise InvalidSettingError("MPS was asked for but Apple's Metal backend is not available here; use 'auto' "
                                  "or 'cpu'")
    return torch.device(name)


def available_devices() -> list[str]:
    """Devices a user can pick on this machine ('auto' first)."""
    out = ["auto"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return [*out, "cpu"]
