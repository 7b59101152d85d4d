"""The learning model of the force field: feature standardization and the site-energy MLP.

    standardizer = Standardizer.fit(features)            # per-feature mean and spread
    network = MLP(n_features, widths=(128, 128, 64, 64, 32), activation="silu")
    epsilon = network(standardizer(features))           # local energies, (..., 1)

The network maps the invariant features of one site to its local energy epsilon_i (paper
eqs. 7, 9). Its default is the paper's six-layer network (Secs. IV–VI): five hidden layers
and the linear output layer. Activations are smooth so the forces -dE/dfield, which the
network's gradient enters, are continuous in the field; the default SiLU is analytic (CELU is
offered too, but its second derivative jumps at 0, so its forces have kinks).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
from torch import nn

ACTIVATIONS = {"celu": nn.CELU, "silu": nn.SiLU, "tanh": nn.Tanh, "softplus": nn.Softplus,
               "gelu": nn.GELU}


@dataclass(frozen=True)
class NetworkConfig:
    """Widths of the hidden layers and the activation between them (JSON-serialisable)."""

    widths: tuple[int, ...] = (128, 128, 64, 64, 32)
    activation: str = "silu"

    def __post_init__(self) -> None:
        widths = tuple(self.widths)
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                 for w in widths):
            raise ValueError(f"network.widths must be a non-empty list of positive integers, "
                             f"got {self.widths!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"network.activation must be one of {', '.join(ACTIVATIONS)} "
                             f"(smooth, so forces are continuous), got {self.activation!r}")
        object.__setattr__(self, "widths", widths)

    def as_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}


class MLP(nn.Module):
    """Features (..., n_in) -> local energy (..., 1): Linear, activation, ..., Linear."""

    def __init__(self, n_in: int, config: NetworkConfig | None = None):
        super().__init__()
        self.config = config = config or NetworkConfig()
        sizes = (n_in, *config.widths)
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), ACTIVATIONS[config.activation]()]
        layers.append(nn.Linear(sizes[-1], 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Standardizer(nn.Module):
    """x -> (x - mean) / scale per feature, with mean and scale learned from training data.

    A feature that is constant over the data (scale 0) is only centred, never divided by 0.
    """

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(n_features, dtype=torch.float64))

    @classmethod
    def fit(cls, features: torch.Tensor) -> Standardizer:
        """Mean and standard deviation over every axis but the last (feature) one."""
        flat = features.detach().reshape(-1, features.shape[-1]).to(torch.float64)
        standardizer = cls(flat.shape[-1])
        std = flat.std(0, unbiased=False)
        standardizer.mean.copy_(flat.mean(0))
        standardizer.scale.copy_(torch.where(std > 1e-12 * (1 + flat.abs().max(0).values),
                                             std, torch.ones_like(std)))
        return standardizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.scale.to(x.dtype)
