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


def _activation_and_slope(name: str, z: torch.Tensor, inplace: bool = False):
    """(act(z), act'(z)) for the activations of ACTIVATIONS with their torch defaults;
    `inplace` (no graph) may overwrite z."""
    if name == "silu":  # a = z·s, a' = s + a·(1 − s) = lerp(s, 1, a) with s = sigmoid(z)
        s = torch.sigmoid(z)
        if inplace:  # three passes, z's buffer reused for a
            a = z.mul_(s)
            return a, s.lerp_(torch.ones((), dtype=s.dtype, device=s.device), a)
        a = z * s
        return a, torch.lerp(s, torch.ones((), dtype=s.dtype, device=s.device), a)
    if name == "tanh":
        a = torch.tanh(z)
        return a, 1.0 - a * a
    if name == "softplus":  # nn.Softplus(): beta 1, linear above threshold 20
        return (torch.nn.functional.softplus(z),
                torch.where(z > 20.0, torch.ones_like(z), torch.sigmoid(z)))
    if name == "celu":  # nn.CELU(): alpha 1
        return torch.celu(z), torch.where(z > 0, torch.ones_like(z), torch.exp(z))
    if name == "gelu":  # exact (erf) GELU
        phi = torch.exp(-0.5 * z * z) * 0.3989422804014327  # 1/sqrt(2 pi)
        return (torch.nn.functional.gelu(z),
                0.5 * (1.0 + torch.erf(z * 0.7071067811865476)) + z * phi)
    raise ValueError(f"no lean slope for activation {name!r}")


def folded_layers(network: MLP, standardizer: Standardizer, dtype: torch.dtype):
    """[(W, b)] of the network in `dtype` with the standardizer folded into the first layer
    (W1 / scale, b1 - (W1 / scale)·mean); differentiable in the weights (training)."""
    linears = [m for m in network.layers if isinstance(m, nn.Linear)]
    first = linears[0]
    w1 = first.weight / standardizer.scale.to(first.weight.dtype)
    b1 = first.bias - w1 @ standardizer.mean.to(first.weight.dtype)
    layers = [(w1, b1)] + [(m.weight, m.bias) for m in linears[1:]]
    return [(w.to(dtype), b.to(dtype)) for w, b in layers]


CHUNK = 1024  # sites per GEMM chain: the activations of a chunk stay in cache


def lean_energy_and_gradient(layers, activation: str, x: torch.Tensor, chunk: int = CHUNK):
    """(network output (N,), ∂output/∂x (N, n_in)) for raw features x (N, n_in) through the
    folded `layers`, `chunk` sites at a time (large activations cost page faults and cache
    misses, not flops): the forward keeps act'(z) of every hidden layer, the backward is the
    transposed GEMMs (plain torch ops: no autograd graph, in place where none is recorded,
    or a differentiable one). It runs on the transposed activations (width, sites): z = W·h
    + b reads x.T by rows, which the lean path stores contiguously (a transposed x with a
    power-of-2 stride costs some GEMMs 2-5x), and the gradient comes out as the transpose of
    a contiguous (n_in, N) tensor, which stage 3's backward reads by feature rows."""
    xt = x.T
    if xt.shape[1] > chunk:
        parts = [_lean_chunk(layers, activation, part) for part in xt.split(chunk, 1)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts], 1).T
    out, gt = _lean_chunk(layers, activation, xt)
    return out, gt.T


def _lean_chunk(layers, activation: str, xt: torch.Tensor):
    """(output (N,), ∂output/∂x transposed (n_in, N)) for xt = x.T (n_in, N)."""
    inplace = not torch.is_grad_enabled() or torch.is_inference_mode_enabled()
    h, slopes = xt, []
    for w, b in layers[:-1]:
        h, slope = _activation_and_slope(activation, torch.addmm(b[:, None], w, h), inplace)
        slopes.append(slope)
    w_out, b_out = layers[-1]
    out = torch.addmm(b_out[:, None], w_out, h)[0]
    g = slopes[-1].mul_(w_out.T) if inplace else slopes[-1] * w_out.T  # (H, N) · (H, 1)
    for (w, _), slope in zip(reversed(layers[1:-1]), reversed(slopes[:-1])):
        g = (w.T @ g).mul_(slope) if inplace else (w.T @ g) * slope
    return out, layers[0][0].T @ g
