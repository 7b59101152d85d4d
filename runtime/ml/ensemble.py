"""A force-field ensemble and its model deviation (issue 16, item 1; DP-GEN's max force
deviation, Zhang et al., Comput. Phys. Commun. 253, 107206 (2020)).

    ensemble = Ensemble([member_0, ..., member_3])    # ForceFields of one descriptor
    energy, forces = ensemble.energy_and_forces(field)  # the mean of the members
    prediction = ensemble.predict(field)              # + every member's force, the deviation
    prediction.site_deviation, prediction.frame_deviation
    ensemble.save("ensemble.pt");  load_model("ensemble.pt")   # one file, either kind

The members differ only in their networks (and standardization): the descriptor of a field
is computed once and every member's network runs on the same features, the first layers of
all members as one GEMM (forward and, for the mean force, backward). The mean force is one
descriptor backward of the mean feature gradient, since the force is linear in it (E =
sum_i eps_i, eq. 7, for each member): the ensemble step costs one descriptor forward and
backward plus K networks. The deviation needs every member's force,
one backward each: `predict` does it, for the frames the dynamics records.

Model deviation of site i: eps_i = sqrt(mean_k |F_i^k - <F_i>|^2), the force components of
the site (for spins, of the transverse part F - (F.S)S, the part that moves a unit spin);
the frame deviation is max_i eps_i.

The file is the ForceField format (`runtime.ml.forcefield.save_model`): one state dict of all
members (keys members.<k>.*) and metadata with "ensemble" (the member count) and each
member's own metadata under "members".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from generated._support import DescriptorInputError
from runtime.errors import ForceFieldError
from runtime.ml.extrapolation import union
from runtime.ml.forcefield import (
    ForceField,
    check_block_rows,
    lean_heads,
    precision_dtype,
    read_model,
    save_model,
)


@dataclass(frozen=True)
class Prediction:
    """Mean energy (batch,) and force (like the field), every member's force (K, like the
    field), the deviation per site (batch, *cells, sublattice) and per frame (batch,)."""

    energy: torch.Tensor
    forces: torch.Tensor
    member_forces: torch.Tensor
    site_deviation: torch.Tensor
    frame_deviation: torch.Tensor


DRIVES = ("mean", "first")


class Ensemble(nn.Module):
    """K ForceFields of one descriptor and network shape; predicts their mean and deviation.

    `dtype` and `block_rows` work as for ForceField (the precision of the force evaluation;
    rows per block with a halo, for bounded memory on large lattices). `drive` is the force
    of `energy_and_forces`, the one the dynamics steps with: "mean" (of the members) or
    "first" (member 0 alone, at the cost of one model, as DeePMD-kit's LAMMPS interface
    drives its dynamics; `predict` still evaluates every member, on the recorded frames)."""

    def __init__(self, members: Sequence[ForceField], *, metadata: dict | None = None,
                 dtype=torch.float64, block_rows: int = 0, drive: str = "mean"):
        super().__init__()
        if drive not in DRIVES:
            raise ForceFieldError(f"drive must be one of {', '.join(DRIVES)}, got {drive!r}")
        self.drive = drive
        members = list(members)
        if len(members) < 2:
            raise ForceFieldError(f"an ensemble needs at least 2 members, got {len(members)}")
        first = members[0]
        for member in members[1:]:
            if member.descriptor.hash != first.descriptor.hash or \
                    member.network.config != first.network.config:
                raise ForceFieldError("the members of an ensemble must share the descriptor "
                                      "and the network widths and activation")
        self.members = nn.ModuleList(members)
        self.descriptor = first.descriptor
        self.metadata = dict(metadata or {})
        self.dtype = precision_dtype(dtype)
        self.block_rows = block_rows
        ranges = [m.metadata.get("feature_range") for m in members]
        if all(isinstance(r, dict) for r in ranges):
            self.metadata["feature_range"] = union(ranges)

    def __repr__(self) -> str:
        return (f"Ensemble({len(self.members)} x {self.descriptor.name}, widths="
                f"{list(self.members[0].network.config.widths)}, precision={self.precision!r})")

    def __setattr__(self, name, value) -> None:
        if name == "block_rows":  # set after construction too (simulate_job does)
            value = check_block_rows(value)
        if name in ("dtype", "block_rows") and "members" in self._modules:
            for member in self.members:  # their lean heads and drive = "first" use them
                setattr(member, name, value)
        super().__setattr__(name, value)

    @property
    def precision(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def field_shape_tail(self) -> tuple[int, int]:
        return self.members[0].field_shape_tail

    def check_field(self, field) -> None:
        self.members[0].check_field(field)

    def features(self, field: torch.Tensor) -> torch.Tensor:
        return self.members[0].features(field)

    def _heads(self, each: bool) -> list:
        """The `lean_heads` of the members (`each`), or one head of their mean: features ->
        (scaled outputs, gradient of the scaled outputs), in self.dtype."""
        members = [(m.head(m._inference_layers()), m.scale.to(self.dtype))
                   for m in self.members]

        def member(head, scale):
            def evaluate(features):
                out, g = head(features)
                return out * scale, g
            return evaluate

        heads = [member(head, scale) for head, scale in members]
        if each:
            return heads

        def mean(features):
            out, g = heads[0](features)
            for head in heads[1:]:
                more, more_g = head(features)
                out, g = out.add_(more), g.add_(more_g)
            return out.div_(len(heads)), g.div_(len(heads))
        return [mean]

    def _evaluate(self, field: torch.Tensor, each: bool):
        """(mean energy (batch,) float64, gradient of the mean energy, or each member's
        (K, ...) with `each`, in self.dtype), over blocks of `block_rows` rows with halos
        (the local energies of a block's rows need the field `radius` rows beyond it): the
        descriptor once per block, every member's network on its features (`lean_heads`)."""
        self.check_field(field)
        d = self.descriptor
        try:
            x, _ = d.check(field.detach().to(self.dtype))
        except DescriptorInputError as error:
            raise ForceFieldError(str(error)) from None
        rows = x.shape[1]
        block = self.block_rows if 0 < self.block_rows < rows else rows
        halo = d.radius[0] if block < rows else 0
        shift = float(torch.stack([m.shift for m in self.members]).double().mean())
        with torch.inference_mode():
            heads = self._heads(each)
            energy = torch.zeros(x.shape[0], dtype=torch.float64)
            gradient = torch.zeros(((len(heads),) if each else ()) + x.shape, dtype=self.dtype)
            for start in range(0, rows, block):
                stop = min(start + block, rows)
                index = torch.arange(start - halo, stop + halo) % rows
                outs, gradients = lean_heads(d, x[:, index], heads,
                                             rows=(halo, halo + stop - start) if halo else None)
                for out in outs:
                    energy += out.reshape(x.shape[0], -1).sum(1, dtype=torch.float64) / len(outs)
                energy += shift * outs[0].numel() / x.shape[0]
                gradient.index_add_(int(each) + 1, index,
                                    torch.stack(gradients) if each else gradients[0])
        return energy, gradient

    def energy_and_forces(self, field: torch.Tensor, *, create_graph: bool = False):
        """(E (batch,), F like the field, float64) of `drive`: the dynamics' force term."""
        if create_graph:
            raise ForceFieldError("an ensemble is not trained as one: train its members")
        if self.drive == "first":
            return self.members[0].energy_and_forces(field)
        energy, gradient = self._evaluate(field, each=False)
        return energy, -gradient.to(torch.float64)

    def forces(self, field: torch.Tensor) -> torch.Tensor:
        return self.energy_and_forces(field)[1]

    def predict(self, field: torch.Tensor) -> Prediction:
        """Mean energy and force, every member's force and the model deviation."""
        energy, gradient = self._evaluate(field, each=True)
        member_forces = -gradient.to(torch.float64)
        site = deviation(member_forces, field, spins=self.descriptor.field == "spin")
        return Prediction(energy, member_forces.mean(0), member_forces, site,
                          site.reshape(site.shape[0], -1).amax(1))

    def site_deviation(self, field: torch.Tensor) -> torch.Tensor:
        return self.predict(field).site_deviation

    def save(self, path):
        """One model file of every member (runtime.ml.forcefield.save_model)."""
        metadata = {**self.metadata, "ensemble": len(self.members),
                    "members": [m.metadata for m in self.members]}
        return save_model(path, self, self.descriptor, self.members[0].network.config,
                          metadata)

    @classmethod
    def load(cls, path, descriptor=None, *, dtype=torch.float64, drive: str = "mean"
             ) -> Ensemble:
        saved = read_model(path, descriptor)
        count, members = saved.metadata.get("ensemble"), saved.metadata.get("members")
        if not isinstance(count, int) or isinstance(count, bool) or count < 2 or \
                not isinstance(members, list) or len(members) != count:
            raise ForceFieldError(f"{path} is not an ensemble file (its metadata has no "
                                  f"'ensemble' count with one 'members' record each); load "
                                  f"a single model with ForceField.load or load_model")
        metadata = {k: v for k, v in saved.metadata.items() if k not in ("ensemble", "members")}
        ensemble = cls([ForceField(saved.descriptor, saved.network, metadata=m)
                        for m in members], metadata=metadata, dtype=dtype, drive=drive)
        saved.load_into(ensemble)
        return ensemble


def deviation(member_forces: torch.Tensor, field: torch.Tensor, *,
              spins: bool = False) -> torch.Tensor:
    """eps_i = sqrt(mean_k |F_i^k - <F_i>|^2) (batch, *cells, sublattice) from the members'
    forces (K, batch, *cells, sublattice, component); `spins`: of the part transverse to the
    unit spin S_i = field_i / |field_i|."""
    if spins:
        unit = field / field.norm(dim=-1, keepdim=True)
        member_forces = member_forces - (member_forces * unit).sum(-1, keepdim=True) * unit
    spread = member_forces - member_forces.mean(0)
    return spread.square().sum(-1).mean(0).sqrt()


def load_model(path, descriptor=None, *, backend: str = "torch", dtype=torch.float64,
               drive: str = "mean"):
    """The model file at `path`: an Ensemble (driven by `drive`) if it holds one, else a
    ForceField."""
    if "ensemble" in read_model(path, descriptor).metadata:
        if backend != "torch":
            raise ForceFieldError(f"an ensemble evaluates on the lean torch path; backend "
                                  f"{backend!r} is for single models")
        return Ensemble.load(path, descriptor, dtype=dtype, drive=drive)
    return ForceField.load(path, descriptor, backend=backend, dtype=dtype)


class DeviationMonitor:
    """The `Monitor` of `simulate`: the ensemble's per-site deviation, and its threshold
    (force units)."""

    name = "model deviation"

    def __init__(self, ensemble: Ensemble, threshold: float = math.inf):
        self.ensemble, self.threshold = ensemble, threshold

    def __call__(self, field: torch.Tensor) -> torch.Tensor:
        return self.ensemble.site_deviation(field)
