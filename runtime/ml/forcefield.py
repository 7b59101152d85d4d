"""The machine-learning force field: descriptor + site-energy network (paper Sec. II, Fig. 1).

    field_force = ForceField(generated.load("square_scalar_reference"), NetworkConfig())
    energy, forces = field_force.energy_and_forces(field)   # E = sum_i eps_i, F = -dE/dfield
    field_force.save("model.pt");  ForceField.load("model.pt")

Local energy eps_i = scale * NN(standardized descriptor features of site i) + shift (eq. 9),
total energy E = sum_i eps_i (eq. 7), generalized force F_i = -dE/dPhi_i (eq. 6; for spins
the effective field H_i = -dE/dS_i): on the lean path by the descriptor's generated backward
and the network's hand-written one, on the reference path by automatic differentiation. Because the features
are exact invariants of the site group and E is a sum over all sites, the forces transform
exactly like the field under every lattice symmetry, and they are conservative by construction.

A saved model is one file read with `torch.load(weights_only=True)`: tensors plus a JSON string
of metadata (descriptor name and hash, network, field, training provenance, and the SHA-256 of
the weights). It is written atomically (`runtime.files.write_atomically`). Loading refuses a
descriptor of another hash, weights that do not match their recorded hash, and a damaged file.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from generated._support import DescriptorInputError
from runtime.errors import ForceFieldError
from runtime.files import write_atomically
from runtime.ml.network import (
    MLP,
    NetworkConfig,
    Standardizer,
    folded_layers,
    lean_energy_and_gradient,
)

FORMAT = "latticeff-forcefield"
FORMAT_VERSION = 2  # 2: the metadata records the SHA-256 of the weights
READABLE_VERSIONS = (1, 2)  # format 1 files carry no weights hash, so none is checked
BACKENDS = ("torch", "compiled", "triton", "auto")
FIELD_DTYPES = (torch.float32, torch.float64)
PATHS = ("lean", "autograd")
PRECISIONS = {"float64": torch.float64, "float32": torch.float32}
STAGE3 = 16384  # cells per pass of stage 3, the network and their backward


def precision_dtype(precision) -> torch.dtype:
    """torch.float64 / torch.float32 from a dtype or its name ("float64", "float32")."""
    if isinstance(precision, torch.dtype) and precision in FIELD_DTYPES:
        return precision
    if isinstance(precision, str) and precision in PRECISIONS:
        return PRECISIONS[precision]
    raise ForceFieldError(f"precision must be 'float64' or 'float32', got {precision!r}")


def weights_hash(state_dict: dict) -> str:
    """SHA-256 over the tensors of a state dict in sorted-key order: each key, dtype, shape
    and the tensor's bytes (contiguous, on the CPU)."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _scatter_columns(gy: torch.Tensor, ranges, total: int) -> torch.Tensor:
    """(K, total) with the consecutive column ranges `ranges` filled by gy, zero elsewhere."""
    full = gy.new_zeros((gy.shape[0], total))
    start = 0
    for lo, hi in ranges:
        full[:, lo:hi] = gy[:, start:start + hi - lo]
        start += hi - lo
    return full


def lean_heads(descriptor, x: torch.Tensor, heads, *, rows=None):
    """Stage 1 and 2 of the lean path once, then stage 3 STAGE3 cells at a time (its tensors
    stay in cache on large lattices, few ops on small ones) with every head on the same
    features: ([outputs (cells,)], [∂(head's weighted sum)/∂x like x]), one of each per head.
    A head maps features (n, F) to (outputs (n,), their weighted gradient (n, F)): the
    network of a model, or of every member of an ensemble. `rows` = (lo, hi) evaluates only
    the cells of those rows of the first cell axis (their energies are the ones that count)."""
    d, sites = descriptor, math.prod(x.shape[1:1 + descriptor.dimension])
    total = x.shape[0] * sites
    if rows is None:
        ranges = [(0, total)]
    else:
        width = sites // x.shape[1]
        ranges = [(k * sites + rows[0] * width, k * sites + rows[1] * width)
                  for k in range(x.shape[0])]
    with torch.no_grad():
        saved = d.lean_outputs(x)
    outs, gys = [[] for _ in heads], [[] for _ in heads]
    for lo, hi in ranges:
        for start in range(lo, hi, STAGE3):
            columns = slice(start, min(start + STAGE3, hi))
            with torch.no_grad():  # the features do not depend on the weights
                features = d.lean_invariants(saved, columns)
            for k, head in enumerate(heads):
                out, g = head(features.reshape(-1, d.n_features))
                outs[k].append(out)
                gys[k].append(d.lean_dinvariants(saved, g.reshape(features.shape), columns))
    gradients = []
    for parts in gys:
        parts = [torch.cat(p, 1) if len(p) > 1 else p[0] for p in zip(*parts)]
        if rows is not None:  # zero gradient of the cells whose energies do not count
            parts = [_scatter_columns(gy, ranges, total) for gy in parts]
        gradients.append(d.lean_transpose(saved, parts))
    return [torch.cat(o) if len(o) > 1 else o[0] for o in outs], gradients


def check_block_rows(value) -> int:
    """`block_rows` as an int >= 0 (0: the whole lattice at once), else ForceFieldError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ForceFieldError(f"block_rows must be an integer >= 1 (rows per block) or 0 (the "
                              f"whole lattice at once), got {value!r}")
    return value


class ForceField(nn.Module):
    """E(Phi) = sum_i [shift + scale * NN((features_i - mean) / std)] and F = -dE/dPhi.

    `backend` is passed to the descriptor: "torch" (differentiable twice, for training) or
    "compiled" (torch.compile, for dynamics on large CPU lattices); see the generated module.
    `block_rows` > 0 evaluates energies and forces (not for training) in blocks of that many
    lattice rows, each with a halo of the descriptor radius: the same result with memory
    bounded by the block, so the cost per site stays constant on large lattices.
    `metadata` holds JSON-serialisable records (e.g. the training provenance) saved with it.

    `dtype` (torch.float64 or torch.float32, or their names) is the precision of the force
    evaluation; weights are kept in float64 and cast per call, and energies are summed in
    float64. `path` "lean" (default, torch backend) evaluates forces without an autograd
    graph: the descriptor's generated backward (`lean_forward`/`lean_backward`) and the
    network's hand-written one, the standardizer folded into the first layer, under
    inference mode; with `create_graph` (training) the same ops build a small graph in the
    weights. "autograd" is the reference path (features by the per-tap torch descriptor,
    forces by autograd); other backends always use it.
    """

    def __new__(cls, descriptor, *args, **kwargs):
        """A descriptor with several site classes gets a `SiteClassForceField`."""
        several = cls is ForceField and hasattr(descriptor, "classes")
        return super().__new__(SiteClassForceField if several else cls)

    def __init__(self, descriptor, network: NetworkConfig | None = None, *,
                 backend: str = "torch", block_rows: int = 0, metadata: dict | None = None,
                 dtype=torch.float64, path: str = "lean"):
        super().__init__()
        if backend not in BACKENDS:
            raise ForceFieldError(f"backend must be one of {', '.join(BACKENDS)}, got "
                                  f"{backend!r}")
        if path not in PATHS:
            raise ForceFieldError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
        self.descriptor = descriptor
        self.backend = backend
        self.dtype = precision_dtype(dtype)
        self.path = path
        self.block_rows = block_rows  # checked by __setattr__
        self.standardizer = Standardizer(descriptor.n_features)
        self.network = MLP(descriptor.n_features, network or NetworkConfig()).double()
        self.register_buffer("shift", torch.zeros((), dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return (f"ForceField({self.descriptor.name}, widths={list(self.network.config.widths)}, "
                f"activation={self.network.config.activation!r}, backend={self.backend!r}, "
                f"precision={self.precision!r}, path={self.path!r})")

    @property
    def precision(self) -> str:
        """"float64" or "float32": the dtype of the force evaluation, by name (the autograd
        path and the compiled and Triton backends evaluate in float64)."""
        lean = self.path == "lean" and self.backend in ("torch", "auto")
        return str(self.dtype if lean else torch.float64).removeprefix("torch.")

    def __setattr__(self, name, value) -> None:
        if name == "block_rows":  # set after construction too (simulate_job does)
            value = check_block_rows(value)
        super().__setattr__(name, value)

    @property
    def field_shape_tail(self) -> tuple[int, int]:
        """(sublattice, component) of the fields it takes."""
        return self.descriptor.sublattices, self.descriptor.components

    def check_field(self, field) -> None:
        """ForceFieldError unless `field` is a float32/float64 torch tensor of shape (batch,
        *cells, sublattice, component) with this descriptor's sublattices and components
        (the descriptor checks the lattice size and finiteness)."""
        name = self.descriptor.name
        if not isinstance(field, torch.Tensor):
            raise ForceFieldError(f"{name}: field must be a torch.Tensor, got "
                                  f"{type(field).__name__}; convert it with torch.as_tensor("
                                  f"field, dtype=torch.float64)")
        if field.dtype not in FIELD_DTYPES:
            raise ForceFieldError(f"{name}: field must be float32 or float64, got "
                                  f"{field.dtype}; convert it with field.to(torch.float64)")
        if field.dim() != self.descriptor.dimension + 3:
            raise ForceFieldError(
                f"{name}: field must have shape (batch, "
                f"{', '.join(['cells'] * self.descriptor.dimension)}, sublattice, component) = "
                f"(batch, ..., {', '.join(map(str, self.field_shape_tail))}), got "
                f"{tuple(field.shape)}")
        if tuple(field.shape[-2:]) != self.field_shape_tail:
            raise ForceFieldError(
                f"{name}: the last two axes must be (sublattice, component) = "
                f"{self.field_shape_tail} for a {self.descriptor.field} field on "
                f"{self.descriptor.lattice}, got {tuple(field.shape[-2:])}")

    def features(self, field: torch.Tensor) -> torch.Tensor:
        """Descriptor features (batch, *cells, sublattice, n_features); checks the field."""
        self.check_field(field)
        try:
            return self.descriptor(field.to(torch.float64), backend=self.backend)
        except DescriptorInputError as error:
            raise ForceFieldError(str(error)) from None

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
        self.check_field(field)
        lean = self.uses_lean(field)
        if self.block_rows and not create_graph and field.dim() > 3 and \
                field.shape[1] > self.block_rows:
            if lean:
                return self._lean_blockwise(field)
            return self._blockwise(field.detach().to(torch.float64))
        if lean:
            energy, gradient = self._lean(field.detach(), create_graph)
            return energy, -gradient.to(torch.float64)
        with torch.enable_grad():
            x = field.detach().to(torch.float64).requires_grad_(True)
            energy = self.energy(x)
            (gradient,) = torch.autograd.grad(energy.sum(), x, create_graph=create_graph)
        if not create_graph:
            energy = energy.detach()
        return energy, -gradient

    def uses_lean(self, field: torch.Tensor) -> bool:
        """Whether energy_and_forces takes the lean path for `field`."""
        return self.path == "lean" and (self.backend == "torch" or (
            self.backend == "auto" and not self.descriptor.use_triton(field)))

    def _lean(self, field: torch.Tensor, create_graph: bool = False, rows=None):
        """(E (batch,) in float64, dE/dfield in self.dtype) by the lean path; `rows` = (lo,
        hi) counts only the local energies of those rows of the first cell axis."""
        x = field.to(self.dtype)
        if x.dtype != field.dtype and not bool(torch.isfinite(x).all()) and \
                bool(torch.isfinite(field).all()):  # finite, but beyond float32: NaN, as
            nan = torch.full((x.shape[0],), math.nan, dtype=torch.float64)  # float64 gives
            return nan, torch.full_like(x, math.nan)
        try:
            x, _ = self.descriptor.check(x)
        except DescriptorInputError as error:
            raise ForceFieldError(str(error)) from None
        context = nullcontext() if create_graph else torch.inference_mode()
        with context:
            layers = (folded_layers(self.network, self.standardizer, self.dtype)
                      if create_graph else self._inference_layers())
            (out,), (gradient,) = lean_heads(self.descriptor, x, [self.head(layers, create_graph)],
                                             rows=rows)
            count = out.numel() / x.shape[0]
            energy = self.shift * count + self.scale * out.reshape(x.shape[0], -1).sum(
                1, dtype=torch.float64)
        return energy, gradient

    def head(self, layers, create_graph: bool = False):
        """The network as a head of `lean_heads`: features (n, F) -> (outputs (n,), scale ×
        ∂outputs/∂features), through the folded `layers`."""
        activation, scale = self.network.config.activation, self.scale.to(self.dtype)

        def evaluate(features):
            out, g = lean_energy_and_gradient(layers, activation, features)
            return out, scale * g if create_graph else g.mul_(scale)
        return evaluate

    def _inference_layers(self):
        """`folded_layers` in self.dtype without a graph, kept until a weight, the
        standardizer or the dtype changes (in-place updates bump a tensor's `_version`)."""
        tensors = [*self.network.parameters(), *self.standardizer.buffers()]
        key = (self.dtype, *[(t.data_ptr(), t._version) for t in tensors])
        cached = self.__dict__.get("_folded")
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = key, folded_layers(self.network, self.standardizer, self.dtype)
            self.__dict__["_folded"] = cached
        return cached[1]

    def _lean_blockwise(self, field: torch.Tensor):
        """The lean path over blocks of `block_rows` rows with their halos (as _blockwise)."""
        halo, rows = self.descriptor.radius[0], field.shape[1]
        energy = torch.zeros(field.shape[0], dtype=torch.float64)
        gradient = torch.zeros_like(field, dtype=self.dtype)
        for start in range(0, rows, self.block_rows):
            stop = min(start + self.block_rows, rows)
            index = torch.arange(start - halo, stop + halo) % rows
            part, block_gradient = self._lean(field[:, index].detach(),
                                              rows=(halo, halo + stop - start))
            energy += part
            gradient.index_add_(1, index, block_gradient)
        return energy, -gradient.to(torch.float64)

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
        """Write weights and metadata (with the SHA-256 of the weights) to `path` atomically:
        the file is either its old self or complete."""
        return save_model(path, self, self.descriptor, self.network.config, self.metadata)

    @classmethod
    def load(cls, path, descriptor=None, *, backend: str = "torch", dtype=torch.float64,
             path_kind: str = "lean") -> ForceField:
        """The model saved at `path`, with `descriptor` (default: the generated descriptor of
        the recorded name). Refuses a descriptor whose hash differs from the recorded one, and
        weights that differ from the ones saved."""
        saved = read_model(path, descriptor)
        if "ensemble" in saved.metadata:
            raise ForceFieldError(f"{path} holds an ensemble of {saved.metadata['ensemble']} "
                                  f"models; load it with runtime.ml.ensemble.load_model (the "
                                  f"commands do)")
        model = cls(saved.descriptor, saved.network, backend=backend, metadata=saved.metadata,
                    dtype=dtype, path=path_kind)
        saved.load_into(model)
        return model


def save_model(path, module: nn.Module, descriptor, network: NetworkConfig,
               metadata: dict) -> Path:
    """The one model file format: `module`'s state dict and a JSON record of `metadata`,
    the descriptor (name, hash), the network and the SHA-256 of the weights, written
    atomically (a ForceField, or an ensemble of them: runtime.ml.ensemble)."""
    state = module.state_dict()
    record = {
        **metadata,
        "descriptor": {"name": descriptor.name, "hash": descriptor.hash},
        "network": network.as_dict(),
        "weights_sha256": weights_hash(state),
    }
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "metadata": json.dumps(record, sort_keys=True), "state_dict": state}
    return write_atomically(path, lambda temporary: torch.save(payload, temporary))


@dataclass(frozen=True)
class SavedModel:
    """A model file read and checked (`read_model`): its descriptor, network, metadata
    (without the keys of the format) and weights."""

    path: Path
    descriptor: object
    network: NetworkConfig
    metadata: dict
    state: dict

    def load_into(self, module: nn.Module) -> None:
        """The saved weights into `module`; a ForceFieldError if they do not fit."""
        try:
            module.load_state_dict(self.state)
        except RuntimeError as error:
            first = str(error).strip().splitlines()
            raise ForceFieldError(
                f"{self.path}: the weights do not fit network {self.network.as_dict()} and "
                f"descriptor {self.descriptor.name} ({first[0] if first else ''}); the file "
                f"is damaged: retrain the model") from None


def read_model(path, descriptor=None) -> SavedModel:
    """The model file at `path`, checked: format, descriptor hash (default descriptor: the
    generated one of the recorded name), weights against their recorded SHA-256."""
    data = _read(path)
    record = _metadata(path, data)
    name = _key(path, record, "descriptor", "name")
    recorded_hash = _key(path, record, "descriptor", "hash")
    network = _key(path, record, "network")
    if descriptor is None:
        import generated

        try:
            descriptor = generated.load(name)
        except KeyError as error:
            raise ForceFieldError(f"{path}: {error.args[0]}") from None
    if descriptor.hash != recorded_hash:
        raise ForceFieldError(
            f"{path} was trained with descriptor {name} (hash "
            f"{str(recorded_hash)[:12]}), but descriptor {descriptor.name} has hash "
            f"{descriptor.hash[:12]}: its features differ, so the network cannot be used "
            f"with it. Retrain the model with this descriptor, or regenerate the original "
            f"one with `latticeff generate`")
    state = data.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ForceFieldError(f"{path} holds no weights (key state_dict); the file is "
                              f"damaged: retrain the model or restore the file")
    if data["format_version"] >= 2:
        expected = _key(path, record, "weights_sha256")
        if weights_hash(state) != expected:
            raise ForceFieldError(
                f"the weights in {path} do not match the SHA-256 recorded when it was "
                f"saved: the file is damaged or was edited. Retrain the model or restore "
                f"the file")
    metadata = {k: v for k, v in record.items()
                if k not in ("descriptor", "network", "weights_sha256")}
    try:
        config = NetworkConfig(**network)
    except (TypeError, ValueError) as error:
        raise ForceFieldError(f"{path}: metadata key network is invalid ({error})") from None
    return SavedModel(Path(path), descriptor, config, metadata, state)


class SiteClassForceField(ForceField):
    """The force field of a descriptor with several site classes (`SiteClasses`, e.g. the
    Lieb lattice's corner and edge sites): one `ForceField` (standardizer, network, shift and
    scale) per class, each seeing only the features of its own class's sites — the
    Behler–Parrinello network per element. E = Σ_classes Σ_{i in class} eps_class(i)."""

    def __init__(self, descriptor, network: NetworkConfig | None = None, *,
                 backend: str = "torch", block_rows: int = 0, metadata: dict | None = None,
                 dtype=torch.float64, path: str = "lean"):
        nn.Module.__init__(self)
        self.descriptor = descriptor
        self.classes = nn.ModuleList([
            ForceField(part, network, backend=backend, block_rows=block_rows, dtype=dtype,
                       path=path) for part in descriptor.classes])
        self.backend, self.dtype, self.path = backend, precision_dtype(dtype), path
        self.block_rows = block_rows
        self.metadata = dict(metadata or {})

    @property
    def network(self) -> MLP:
        """The first class's network (all classes share its configuration)."""
        return self.classes[0].network

    def __setattr__(self, name, value) -> None:
        if name == "block_rows":
            for part in self.classes:
                part.block_rows = value
        elif name in ("backend", "dtype", "path") and "classes" in self._modules:
            for part in self.classes:
                setattr(part, name, value)
        nn.Module.__setattr__(self, name, value)

    def features(self, field: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per class: (batch, *cells, class sites, class features)."""
        return tuple(part.features(field) for part in self.classes)

    def fit_scales(self, features, energy_per_site: torch.Tensor, forces: torch.Tensor):
        """Each class's standardizer from its own features; shift and scale as one class."""
        for part, own in zip(self.classes, features):
            part.fit_scales(own, energy_per_site, forces)

    def forward(self, field: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Local energies per class: (batch, *cells, class sites) each."""
        return tuple(part(field) for part in self.classes)

    def energy(self, field: torch.Tensor) -> torch.Tensor:
        return sum(part.energy(field) for part in self.classes)

    def energy_and_forces(self, field: torch.Tensor, *, create_graph: bool = False):
        results = [part.energy_and_forces(field, create_graph=create_graph)
                   for part in self.classes]
        return sum(e for e, _ in results), sum(f for _, f in results)

    def uses_lean(self, field: torch.Tensor) -> bool:
        return self.classes[0].uses_lean(field)


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ForceFieldError(f"no model file {path}; train one with `latticeff train CONFIG`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()
        raise ForceFieldError(f"{path} is not a readable latticeff model "
                              f"({reason[0] if reason else type(error).__name__}); it is "
                              f"damaged or another kind of file: retrain the model or restore "
                              f"it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ForceFieldError(f"{path} is not a latticeff force-field model file")
    version = data.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ForceFieldError(f"{path} has model format {version!r}; this code reads formats "
                              f"{', '.join(map(str, READABLE_VERSIONS))}")
    return data


def _metadata(path, data: dict) -> dict:
    try:
        record = json.loads(data["metadata"])
    except (KeyError, TypeError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise ForceFieldError(f"{path} has no readable metadata (key metadata); the file is "
                              f"damaged: retrain the model or restore the file")
    return record


def _key(path, record: dict, *keys):
    """record[keys[0]][keys[1]]..., or a ForceFieldError naming the file and the key."""
    value = record
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise ForceFieldError(f"{path}: the model metadata lacks the key "
                                  f"{'.'.join(keys[:depth + 1])}; the file is damaged or was "
                                  f"not written by latticeff: retrain the model")
        value = value[key]
    return value


def read_metadata(path) -> dict:
    """The JSON metadata of a saved model (descriptor, network, provenance)."""
    return _metadata(path, _read(path))
