"""The machine-learning force field: descriptor + site-energy network (paper Sec. II, Fig. 1).

    field_force = ForceField(generated.load("square_scalar_reference"), NetworkConfig())
    energy, forces = field_force.energy_and_forces(field)   # E = sum_i eps_i, F = -dE/dfield
    field_force.save("model.pt");  ForceField.load("model.pt")

Local energy eps_i = scale * NN(standardized descriptor features of site i) + shift (eq. 9),
total energy E = sum_i eps_i (eq. 7), generalized force F_i = -dE/dPhi_i by automatic
differentiation (eq. 6; for spins the effective field H_i = -dE/dS_i). Because the features
are exact invariants of the site group and E is a sum over all sites, the forces transform
exactly like the field under every lattice symmetry, and they are conservative by construction.

A saved model is one file read with `torch.load(weights_only=True)`: tensors plus a JSON string
of metadata (descriptor name and hash, network, field, training provenance). Loading it with
a descriptor of another hash is refused.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from runtime.errors import ForceFieldError
from runtime.ml.network import MLP, NetworkConfig, Standardizer

FORMAT = "latticeff-forcefield"
FORMAT_VERSION = 1
BACKENDS = ("torch", "compiled", "triton", "auto")


class ForceField(nn.Module):
    """E(Phi) = sum_i [shift + scale * NN((features_i - mean) / std)] and F = -dE/dPhi.

    `backend` is passed to the descriptor: "torch" (differentiable twice, for training) or
    "compiled" (torch.compile, for dynamics on large CPU lattices); see the generated module.
    `block_rows` > 0 evaluates energies and forces (not for training) in blocks of that many
    lattice rows, each with a halo of the descriptor radius: the same result with memory
    bounded by the block, so the cost per site stays constant on large lattices.
    `metadata` holds JSON-serialisable records (e.g. the training provenance) saved with it.
    """

    def __init__(self, descriptor, network: NetworkConfig | None = None, *,
                 backend: str = "torch", block_rows: int = 0, metadata: dict | None = None):
        super().__init__()
        if backend not in BACKENDS:
            raise ForceFieldError(f"backend must be one of {', '.join(BACKENDS)}, got "
                                  f"{backend!r}")
        self.descriptor = descriptor
        self.backend = backend
        self.block_rows = block_rows
        self.standardizer = Standardizer(descriptor.n_features)
        self.network = MLP(descriptor.n_features, network or NetworkConfig()).double()
        self.register_buffer("shift", torch.zeros((), dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return (f"ForceField({self.descriptor.name}, widths={list(self.network.config.widths)}, "
                f"activation={self.network.config.activation!r}, backend={self.backend!r})")

    @property
    def field_shape_tail(self) -> tuple[int, int]:
        """(sublattice, component) of the fields it takes."""
        return self.descriptor.sublattices, self.descriptor.components

    def features(self, field: torch.Tensor) -> torch.Tensor:
        """Descriptor features (batch, *cells, sublattice, n_features); checks the field."""
        if not isinstance(field, torch.Tensor):
            raise ForceFieldError(f"field must be a torch.Tensor, got {type(field).__name__}")
        if field.dim() != self.descriptor.dimension + 3:
            raise ForceFieldError(
                f"{self.descriptor.name}: field must have shape (batch, "
                f"{', '.join(['cells'] * self.descriptor.dimension)}, sublattice, component) = "
                f"(batch, ..., {', '.join(map(str, self.field_shape_tail))}), got "
                f"{tuple(field.shape)}")
        return self.descriptor(field.to(torch.float64), backend=self.backend)

    def fit_scales(self, features: torch.Tensor, energy_per_site: torch.Tensor,
                   forces: torch.Tensor) -> None:
        """Standardization from training data: feature mean and spread, and the output
        shift (mean energy per site) and scale (spread of the force components)."""
        self.standardizer.load_state_dict(Standardizer.fit(features).state_dict())
        self.shift.copy_(energy_per_site.mean())
        spread = forces.std()
        self.scale.copy_(spread if spread > 0 else torch.ones(()))

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        """Local energies eps_i (batch, *cells, sublattice) (eq. 9)."""
        x = self.standardizer(self.features(field))
        return self.shift + self.scale * self.network(x)[..., 0]

    def energy(self, field: torch.Tensor) -> torch.Tensor:
        """Total energy E = sum_i eps_i per configuration (eq. 7), shape (batch,)."""
        local = self(field)
        return local.reshape(local.shape[0], -1).sum(1)

    def energy_and_forces(self, field: torch.Tensor, *, create_graph: bool = False):
        """(E (batch,), F = -dE/dfield like the field). With `create_graph` the forces stay
        differentiable in the weights (the force loss of training)."""
        if self.block_rows and not create_graph and field.dim() > 3 and \
                field.shape[1] > self.block_rows:
            return self._blockwise(field.detach().to(torch.float64))
        with torch.enable_grad():
            x = field.detach().to(torch.float64).requires_grad_(True)
            energy = self.energy(x)
            (gradient,) = torch.autograd.grad(energy.sum(), x, create_graph=create_graph)
        if not create_graph:
            energy = energy.detach()
        return energy, -gradient

    def _blockwise(self, field: torch.Tensor):
        """energy_and_forces over blocks of `block_rows` rows of the first cell axis: the local
        energies of a block's rows need the field `radius` rows beyond it (the halo), and the
        gradient of those energies lands on block and halo alike, so it is accumulated."""
        halo, rows = self.descriptor.radius[0], field.shape[1]
        energy = field.new_zeros(field.shape[0])
        gradient = torch.zeros_like(field)
        for start in range(0, rows, self.block_rows):
            stop = min(start + self.block_rows, rows)
            index = torch.arange(start - halo, stop + halo) % rows
            with torch.enable_grad():
                block = field[:, index].requires_grad_(True)
                local = self(block)[:, halo:halo + stop - start]
                part = local.reshape(local.shape[0], -1).sum(1)
                (block_gradient,) = torch.autograd.grad(part.sum(), block)
            energy += part.detach()
            gradient.index_add_(1, index, block_gradient)
        return energy, -gradient

    def forces(self, field: torch.Tensor) -> torch.Tensor:
        """F = -dE/dfield, detached: the force function of the integrators."""
        return self.energy_and_forces(field)[1]

    def save(self, path) -> Path:
        """Write weights and metadata to `path` atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            **self.metadata,
            "descriptor": {"name": self.descriptor.name, "hash": self.descriptor.hash},
            "network": self.network.config.as_dict(),
        }
        temporary = path.with_name(path.name + ".tmp")
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION,
                    "metadata": json.dumps(record, sort_keys=True),
                    "state_dict": self.state_dict()}, temporary)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path, descriptor=None, *, backend: str = "torch") -> ForceField:
        """The model saved at `path`, with `descriptor` (default: the generated descriptor of
        the recorded name). Refuses a descriptor whose hash differs from the recorded one."""
        record = read_metadata(path)
        expected = record["descriptor"]
        if descriptor is None:
            import generated

            try:
                descriptor = generated.load(expected["name"])
            except KeyError as error:
                raise ForceFieldError(f"{path}: {error.args[0]}") from None
        if descriptor.hash != expected["hash"]:
            raise ForceFieldError(
                f"{path} was trained with descriptor {expected['name']} (hash "
                f"{expected['hash'][:12]}), but descriptor {descriptor.name} has hash "
                f"{descriptor.hash[:12]}: its features differ, so the network cannot be used "
                f"with it. Retrain the model with this descriptor, or regenerate the original "
                f"one with `latticeff generate`")
        metadata = {k: v for k, v in record.items() if k not in ("descriptor", "network")}
        model = cls(descriptor, NetworkConfig(**record["network"]), backend=backend,
                    metadata=metadata)
        model.load_state_dict(_read(path)["state_dict"])
        return model


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ForceFieldError(f"no model file {path}; train one with `latticeff train CONFIG`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise ForceFieldError(f"{path} is not a readable latticeff model ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ForceFieldError(f"{path} is not a latticeff force-field model file")
    if data["format_version"] != FORMAT_VERSION:
        raise ForceFieldError(f"{path} has model format {data['format_version']}; this code "
                              f"reads format {FORMAT_VERSION}")
    return data


def read_metadata(path) -> dict:
    """The JSON metadata of a saved model (descriptor, network, provenance)."""
    return json.loads(_read(path)["metadata"])
