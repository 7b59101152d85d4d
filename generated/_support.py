"""Hand-written support shared by the generated descriptor modules (never generated).

`GeneratedDescriptor(module)` checks the module's embedded spec against its SPEC_HASH,
validates input, computes the stage-1 channels of each stencil part (field values, S·S'
bonds, S·(S'×S'') chiralities, |S|²) and applies each part's stencil (LEAN_TAPS,
LEAN_WEIGHTS) and the module's invariants: on the torch reference path as constant-folded
sums of shifted views of the periodically padded channels (`tap_sums`), on the lean path as
a GEMM of im2col columns or of a gather (`LeanStencil`), or on the Triton path
(generated._triton) when the tensor is on CUDA or TRITON_INTERPRET=1. Field layout: (batch,
*cells, sublattice, component), or without the batch dimension.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from generated._spec import checked_spec, content_hash, spin_sites

_HERE = Path(__file__).resolve().parent


def load_path(path: Path):
    """The module in file `path`, imported once (keyed by its resolved path)."""
    key = str(path.resolve())
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def stencil(module_file: str, name: str):
    """The shared stencil module `name` in the stencils/ folder next to `module_file` (the
    package's own, or that of a directory given to `latticeff generate --output`; a site-class
    module in classes/ uses the stencils/ of the folder above)."""
    return _sibling(module_file, "stencils", name)


def site_class(module_file: str, name: str):
    """The descriptor of site-class module `name` in the classes/ folder next to
    `module_file`."""
    return _sibling(module_file, "classes", name).DESCRIPTOR


def _sibling(module_file: str, folder: str, name: str):
    base = Path(module_file).resolve().parent
    base = base.parent if base.name == "classes" else base
    path = base / folder / f"{name}.py"
    if base == _HERE:
        return importlib.import_module(f"generated.{folder}.{name}")
    return load_path(path)


class DescriptorInputError(ValueError):
    """A field the descriptor cannot take: wrong type, shape, dtype, size or NaN."""


def _shift(x: torch.Tensor, offset, dim: int) -> torch.Tensor:
    """y(i) = x(i + offset) with periodic boundaries on the `dim` cell axes after batch."""
    return torch.roll(x, shifts=tuple(-o for o in offset), dims=tuple(range(1, 1 + dim)))


def channels(field: torch.Tensor, keys, dim: int) -> torch.Tensor:
    """Stage 1: (batch, *cells, n_channels) for a (batch, *cells, sublattice, component)
    field; keys as in grouptheory.stencil."""
    out = []
    for key in keys:
        kind = key[0]
        if kind == "field":
            out.append(field[..., key[1], key[2]])
            continue
        s = [_spin(field, offset, b, dim) for offset, b in spin_sites(key, dim)]
        if kind == "length":
            out.append((s[0] * s[0]).sum(-1))
        elif kind == "dot":
            out.append((s[0] * s[1]).sum(-1))
        else:  # triple
            out.append((s[0] * torch.linalg.cross(s[1], s[2])).sum(-1))
    return torch.stack(out, dim=-1)


def _spin(field: torch.Tensor, offset, b: int, dim: int) -> torch.Tensor:
    """S(x + offset, b) at every cell x."""
    spin = field[..., b, :]
    return _shift(spin, offset, dim) if any(offset) else spin


def pad(x: torch.Tensor, radius, dim: int, first: int = 1) -> torch.Tensor:
    """Periodic padding by `radius` of the `dim` cell axes from axis `first` on."""
    for axis, r in enumerate(radius):
        if r:
            a = axis + first
            n = x.shape[a]
            x = torch.cat([x.narrow(a, n - r, r), x, x.narrow(a, 0, r)], dim=a)
    return x


def unpad(x: torch.Tensor, radius, first: int = 1) -> torch.Tensor:
    """The transpose of `pad`: each halo slab added onto the cells it copies."""
    for axis, r in enumerate(radius):
        if r:
            a = axis + first
            n = x.shape[a] - 2 * r
            core = x.narrow(a, r, n).clone()
            core.narrow(a, 0, r).add_(x.narrow(a, n + r, r))
            core.narrow(a, n - r, r).add_(x.narrow(a, 0, r))
            x = core
    return x


def tap_sums(p: torch.Tensor, part, sub: int, cells) -> list[torch.Tensor]:
    """Stage 2 on the torch reference path: the outputs y_k (batch, *cells) of the `sub`-th
    center (sublattice, or site of the descriptor's class) from the channels p padded by part.RADIUS, as constant-folded sums
    y_k = Σ_groups c·(v_a + v_b − v_c …) of shifted views v_t (one multiplication per
    distinct |c|, none for 1; differentiable twice)."""
    views = [p[(slice(None), *[slice(r + o, r + o + n) for r, o, n in
                               zip(part.RADIUS, offset, cells)], c)]
             for c, offset in part.LEAN_TAPS[sub]]
    ys = []
    for groups in part.LEAN_WEIGHTS[sub]:
        y = None
        for value, added, subtracted in groups:
            total = views[added[0]] if added else -views[subtracted[0]]
            for t in added[1:]:
                total = total + views[t]
            for t in subtracted[1 - bool(added):]:
                total = total - views[t]
            if value != 1.0:
                total = value * total
            y = total if y is None else y + total
        ys.append(p.new_zeros(p.shape[0], *cells) if y is None else y)
    return ys


def _flat_index(cells, taps, stride: int, sign: int) -> torch.Tensor:
    """(N, T) int64: flat index (cell + sign·offset_t) · stride + channel_t of every cell
    (row-major, periodic) and tap t = (channel, offset)."""
    grids = torch.meshgrid(*[torch.arange(n) for n in cells], indexing="ij")
    columns = []
    for c, offset in taps:
        flat = torch.zeros((), dtype=torch.int64)
        for a, n in enumerate(cells):
            flat = flat * n + (grids[a] + sign * offset[a]) % n
        columns.append(flat.reshape(-1) * stride + c)
    return torch.stack(columns, dim=-1)


DENSE = 3  # a part's stencil is a dense convolution when channels × kernel ≤ DENSE × taps


def _blocks(dense: torch.Tensor) -> list[tuple[list[int], list[int]]]:
    """The connected components (outputs, taps) of the nonzeros of W (outputs × taps), in
    order of their first output: W is block diagonal up to permutations (the projection of
    each orbit of sites onto the irreps reads that orbit's taps only)."""
    n_out = dense.shape[0]
    parent = list(range(n_out + dense.shape[1]))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for k, t in dense.nonzero().tolist():
        parent[root(k)] = root(n_out + t)
    found: dict = {}
    for k in range(n_out):
        found.setdefault(root(k), ([], []))[0].append(k)
    for t in range(dense.shape[1]):
        if root(n_out + t) in found:
            found[root(n_out + t)][1].append(t)
    return [block for block in found.values() if block[1]]


class LeanStencil:
    """One stencil part for one center sublattice as a matrix W (outputs × taps): y = W·U
    with U the tap values of every cell. When the taps fill most of the box of the kernel
    (channels × (2r+1)^d ≤ DENSE × taps: the scalar and multi-site families) U is the
    im2col of the periodically padded channels (one strided copy, no index tensor) and W is
    applied block by block: its connected components (one orbit of sites each), those of
    one shape batched into one bmm — a few hundred multiply-adds per cell instead of
    outputs × box; the backward is the transposed bmm and col2im (F.fold) folded back over
    the periodic halo. Otherwise (the spin families' many bond channels) U is a gather of
    the taps, and the backward a gather at the negated offsets (no scatter)."""

    def __init__(self, part, sub: int):
        self.taps = [(c, tuple(o)) for c, o in part.LEAN_TAPS[sub]]
        self.n_channels, self.n_outputs = len(part.CHANNELS), len(part.OUTPUTS)
        self._dense = torch.zeros((self.n_outputs, len(self.taps)), dtype=torch.float64)
        for k, groups in enumerate(part.LEAN_WEIGHTS[sub]):
            for value, added, subtracted in groups:
                self._dense[k, added] = value
                self._dense[k, subtracted] = -value
        dim = len(self.taps[0][1])
        self.radius = tuple(max(abs(o[a]) for _, o in self.taps) for a in range(dim))
        self.box = tuple(2 * r + 1 for r in self.radius)
        self.conv = self.n_channels * math.prod(self.box) <= DENSE * len(self.taps)
        self._box_rows = []  # the im2col row of each tap: c·box + (offset + radius)
        for c, offset in self.taps:
            flat = c
            for o, r, b in zip(offset, self.radius, self.box):
                flat = flat * b + o + r
            self._box_rows.append(flat)
        shapes: dict = {}
        for outputs, taps in _blocks(self._dense):
            shapes.setdefault((len(outputs), len(taps)), []).append((outputs, taps))
        self._shapes = list(shapes.values())
        self._covered = sum(len(o) for b in self._shapes for o, _ in b) == self.n_outputs
        self._cache: dict = {}

    def _get(self, key, make):
        if key not in self._cache:
            with torch.inference_mode(False):  # normal tensors: training uses them too
                self._cache[key] = make()
        return self._cache[key]

    def weights(self, like: torch.Tensor) -> torch.Tensor:
        return self._get(("W", like.dtype, like.device),
                         lambda: self._dense.to(like.dtype).to(like.device).clone())

    def blocks(self, like: torch.Tensor) -> list[tuple]:
        """[(output rows, im2col rows, W blocks (blocks, outputs, taps))], one per shape."""
        def make():
            result = []
            for blocks in self._shapes:
                outputs = [k for block, _ in blocks for k in block]
                rows = [self._box_rows[t] for _, taps in blocks for t in taps]
                w = torch.stack([self._dense[block][:, taps] for block, taps in blocks])
                result.append((torch.tensor(outputs, device=like.device),
                               torch.tensor(rows, device=like.device),
                               w.to(like.dtype).to(like.device)))
            return result
        return self._get(("B", like.dtype, like.device), make)

    def index(self, cells, device, sign: int) -> torch.Tensor:
        stride = self.n_channels if sign > 0 else len(self.taps)
        taps = self.taps if sign > 0 else [(t, o) for t, (_, o) in enumerate(self.taps)]
        return self._get(("I", cells, str(device), sign),
                         lambda: _flat_index(cells, taps, stride, sign).to(device))

    def onehot(self, like: torch.Tensor) -> torch.Tensor:
        """(taps, channels): which channel each tap reads."""
        def make():
            m = torch.zeros((len(self.taps), self.n_channels), dtype=like.dtype)
            m[torch.arange(len(self.taps)), [c for c, _ in self.taps]] = 1.0
            return m.to(like.device)
        return self._get(("H", like.dtype, like.device), make)

    def columns(self, ch: torch.Tensor, cells) -> torch.Tensor:
        """im2col (channels·box, batch·N) of the channels (batch, N, C), periodic."""
        dim, batch = len(cells), ch.shape[0]
        p = pad(ch.reshape(batch, *cells, self.n_channels), self.radius, dim)
        s = p.stride()
        view = p.as_strided((self.n_channels, *self.box, batch, *cells),
                            (s[-1], *s[1:1 + dim], s[0], *s[1:1 + dim]))
        return view.reshape(-1, batch * math.prod(cells))

    def forward(self, ch: torch.Tensor, cells, columns=None, out=None) -> torch.Tensor:
        """Outputs (K, batch·N) from channels (batch, N, C) (or from their `columns`),
        written into `out` when given (rows of the outputs of several parts)."""
        if self.conv:
            cols = self.columns(ch, cells) if columns is None else columns
            n = cols.shape[1]
            y = cols.new_empty((self.n_outputs, n)) if out is None else out
            if not self._covered:
                y.zero_()
            for outputs, rows, w in self.blocks(cols):
                u = cols.index_select(0, rows).view(w.shape[0], w.shape[2], n)
                y.index_copy_(0, outputs, torch.bmm(w, u).view(-1, n))
            return y
        u = ch.reshape(ch.shape[0], -1)[:, self.index(cells, ch.device, 1)]  # (B, N, T)
        y = self.weights(ch) @ u.reshape(-1, len(self.taps)).T
        return y if out is None else out.copy_(y)

    def transpose_columns(self, gy: torch.Tensor, gu: torch.Tensor) -> torch.Tensor:
        """gu (channels·box, batch·N) += ∂L/∂columns from ∂L/∂outputs gy (K, batch·N), in
        place (the parts and centers that share the columns add into one gu)."""
        n = gy.shape[1]
        for outputs, rows, w in self.blocks(gy):
            g = gy.index_select(0, outputs).view(w.shape[0], w.shape[1], n)
            gu.index_add_(0, rows, torch.bmm(w.transpose(1, 2), g).view(-1, n))
        return gu

    def backward(self, gy: torch.Tensor, cells, batch: int) -> torch.Tensor:
        """∂L/∂channels (batch, N, C) from ∂L/∂outputs gy (K, batch·N)."""
        if self.conv:
            gu = gy.new_zeros((self.n_channels * math.prod(self.box), gy.shape[1]))
            return self.col2im(self.transpose_columns(gy, gu), cells, batch)
        gu = (gy.T @ self.weights(gy)).reshape(batch, -1)  # (B, N·T)
        gathered = gu[:, self.index(cells, gy.device, -1)]  # (B, N, T): taps landing on x
        return gathered @ self.onehot(gy)

    def col2im(self, gu: torch.Tensor, cells, batch: int) -> torch.Tensor:
        """The transpose of `columns`: (batch, N, C) from (channels·box, batch·N); in a graph
        (training) its derivative is `columns` (torch's own, im2col, is several times
        slower)."""
        if gu.requires_grad:
            return _Col2im.apply(gu, self, cells, batch)
        return self.fold(gu, cells, batch)

    def fold(self, gu: torch.Tensor, cells, batch: int) -> torch.Tensor:
        dim, c = len(cells), self.n_channels
        padded = tuple(n + 2 * r for n, r in zip(cells, self.radius))
        gu = gu.reshape(c * math.prod(self.box), batch, -1).transpose(0, 1)
        if dim == 2:
            g = torch.nn.functional.fold(gu, padded, self.box)
        else:  # one shifted add per kernel position
            g = gu.new_zeros((batch, c, *padded))
            gu = gu.reshape(batch, c, -1, *cells)
            for u, corner in enumerate(itertools.product(*map(range, self.box))):
                window = g[(slice(None), slice(None),
                            *[slice(a, a + n) for a, n in zip(corner, cells)])]
                window += gu[:, :, u]
        g = unpad(g, self.radius, first=2)
        return g.reshape(batch, c, -1).transpose(1, 2)


class _Col2im(torch.autograd.Function):
    """LeanStencil.fold with LeanStencil.columns, its transpose, as the derivative."""

    @staticmethod
    def forward(ctx, gu, stencil, cells, batch):
        ctx.stencil, ctx.cells = stencil, cells
        return stencil.fold(gu, cells, batch)

    @staticmethod
    def backward(ctx, g):
        return ctx.stencil.columns(g, ctx.cells), None, None, None


def _roll(x: torch.Tensor, offset, dim: int) -> torch.Tensor:
    return _shift(x, offset, dim)


def neg(offset) -> tuple:
    return tuple(-v for v in offset)


def spin_backward(field: torch.Tensor, gch: torch.Tensor, keys, dim: int) -> torch.Tensor:
    """∂L/∂S (batch, *cells, sublattice, M) from the gradients gch (batch, *cells, C) of the
    spin channels (bonds, chiralities, lengths; field channels are skipped): stage 1
    transposed. A channel at z reads spins S_j = S(z + o_j, b_j); S(x, b_j) gets
    g(x − o_j)·∂channel/∂S_j."""
    grad = torch.zeros_like(field)
    for c, key in enumerate(keys):
        kind, g = key[0], gch[..., c, None]
        if kind == "field":
            continue
        sites = spin_sites(key, dim)
        s = [_spin(field, offset, b, dim) for offset, b in sites]
        if kind == "length":
            partials = [2.0 * s[0]]
        elif kind == "dot":  # d(z) = S0·S1
            partials = [s[1], s[0]]
        else:  # t(z) = S0·(S1×S2)
            partials = [torch.linalg.cross(s[1], s[2]), torch.linalg.cross(s[2], s[0]),
                        torch.linalg.cross(s[0], s[1])]
        for (offset, b), partial in zip(sites, partials):
            term = g * partial
            grad[..., b, :] += _roll(term, neg(offset), dim) if any(offset) else term
    return grad


class TritonFeatures(torch.autograd.Function):
    """A descriptor's Triton forward and backward (generated._triton) wired into autograd
    (first derivatives only): `TritonFeatures.apply(field, descriptor)`."""

    @staticmethod
    def forward(ctx, x, descriptor):
        from generated import _triton

        features, outputs = _triton.forward(descriptor, x)
        ctx.save_for_backward(x, outputs)
        ctx.descriptor = descriptor
        return features

    @staticmethod
    def backward(ctx, gout):
        from generated import _triton

        x, outputs = ctx.saved_tensors
        return _triton.backward(ctx.descriptor, x, outputs, gout), None


class GeneratedDescriptor:
    """The callable descriptor of one generated module: `features = descriptor(field)`."""

    def __init__(self, namespace: dict):
        self.module = m = SimpleNamespace(**namespace)  # the generated module's globals
        spec = checked_spec(m.__name__, m.SPEC_JSON, m.SPEC_HASH)
        self.spec, self.hash = spec, m.SPEC_HASH
        self.name, self.family, self.group = spec["name"], spec["family"], spec["group"]
        self.lattice, self.field = spec["lattice"]["name"], spec["field"]["name"]
        self.dimension = spec["lattice"]["dimension"]
        self.sublattices = spec["lattice"]["sublattices"]
        self.centers = tuple(spec.get("centers", range(self.sublattices)))
        self.components = len(spec["field"]["components"])
        self.radius = tuple(spec["stencil"]["radius"])
        self.feature_names = list(spec["features"])
        self.n_features = len(self.feature_names)
        self.n_outputs = len(spec["stencil"]["outputs"])
        self.stencils = m.STENCILS
        self._compiled = None
        self._lean = None

    @property
    def has_triton(self) -> bool:
        return self.module.forward_kernel is not None

    def __repr__(self) -> str:
        return (f"<descriptor {self.name}: {self.family} on {self.lattice} ({self.group}), "
                f"field {self.field}, {self.n_features} features, hash {self.hash[:12]}>")

    @property
    def min_size(self) -> tuple[int, ...]:
        """Smallest lattice (cells per axis) whose periodic neighborhoods are all distinct."""
        return tuple(2 * r + 1 for r in self.radius)

    def check(self, field) -> tuple[torch.Tensor, bool]:
        """(batched field, had_batch); raises DescriptorInputError with the fix."""
        if not isinstance(field, torch.Tensor):
            raise DescriptorInputError(
                f"{self.name}: expected a torch.Tensor field, got {type(field).__name__}")
        if field.dtype not in (torch.float32, torch.float64):
            raise DescriptorInputError(
                f"{self.name}: expected float32 or float64, got {field.dtype}")
        tail = (self.sublattices, self.components)
        if field.dim() == self.dimension + 2:
            field, batched = field.unsqueeze(0), False
        elif field.dim() == self.dimension + 3:
            batched = True
        else:
            raise DescriptorInputError(
                f"{self.name}: expected shape ([batch,] {', '.join(['cells'] * self.dimension)}"
                f", {tail[0]}, {tail[1]}), got {tuple(field.shape)}")
        if tuple(field.shape[-2:]) != tail:
            raise DescriptorInputError(
                f"{self.name}: the last two axes must be (sublattice, component) = {tail} for "
                f"a {self.field} field on {self.lattice}, got {tuple(field.shape[-2:])}")
        cells = tuple(field.shape[1:1 + self.dimension])
        if any(n < m for n, m in zip(cells, self.min_size)):
            raise DescriptorInputError(
                f"{self.name}: lattice {cells} is smaller than the stencil; use at least "
                f"{self.min_size} cells")
        if not torch.isfinite(field).all():
            bad = torch.nonzero(~torch.isfinite(field))[0].tolist()
            raise DescriptorInputError(
                f"{self.name}: field has NaN/inf, first at {bad if batched else bad[1:]}")
        return field, batched

    def use_triton(self, field: torch.Tensor) -> bool:
        return self.has_triton and (
            field.is_cuda or os.environ.get("TRITON_INTERPRET") == "1")

    def torch_forward(self, field: torch.Tensor) -> torch.Tensor:
        """Reference torch path (differentiable twice): (batch, *cells, center, F), the
        centers being every sublattice or those of this descriptor's site class."""
        cells = tuple(field.shape[1:1 + self.dimension])
        outputs = [[] for _ in self.centers]
        for part in self.stencils:
            p = pad(channels(field, part.CHANNELS, self.dimension), part.RADIUS, self.dimension)
            for n, y in enumerate(outputs):  # the n-th center's stencil
                y += tap_sums(p, part, n, cells)
        return torch.stack([self.module.invariants(y) for y in outputs], dim=-2)

    def _lean_parts(self):
        if self._lean is None:
            with torch.inference_mode(False):  # normal tensors: training uses them too
                self._lean = [[LeanStencil(part, n) for n in range(len(self.centers))]
                              for part in self.stencils]
        return self._lean

    def lean_outputs(self, field: torch.Tensor):
        """Stages 1–2 of the lean torch path for a batched, checked field: saved values whose
        `[1]` is the stencil outputs (K, batch·N) of each center sublattice (per part and
        sublattice, W's blocks on im2col columns shared by the parts with the same channels,
        or one GEMM of a gather: `LeanStencil`)."""
        batch, cells = field.shape[0], tuple(field.shape[1:1 + self.dimension])
        k = sum(len(part.OUTPUTS) for part in self.stencils)
        ys = [field.new_empty((k, batch * math.prod(cells))) for _ in self.centers]
        start = 0  # the first row of the part's outputs
        shared: dict = {}  # im2col columns, one per channel list and kernel radius
        for part, lean in zip(self.stencils, self._lean_parts()):
            if all(k[0] == "field" for k in part.CHANNELS):
                flat = field.reshape(batch, -1, self.sublattices * self.components)
                ch = flat[..., [k[1] * self.components + k[2] for k in part.CHANNELS]]
            else:
                ch = channels(field, part.CHANNELS, self.dimension).reshape(
                    batch, -1, len(part.CHANNELS))
            for s, stencil_s in enumerate(lean):
                columns = None
                if stencil_s.conv:
                    key = (tuple(part.CHANNELS), stencil_s.radius)
                    if key not in shared:
                        shared[key] = stencil_s.columns(ch, cells)
                    columns = shared[key]
                stencil_s.forward(ch, cells, columns, ys[s][start:start + len(part.OUTPUTS)])
            start += len(part.OUTPUTS)
        return field, ys

    def lean_invariants(self, saved, columns=slice(None)) -> torch.Tensor:
        """Stage 3 (grouped, generated) of the cells `columns` of batch·N: (cells, S, F)."""
        features = [self.module.lean_features(y[:, columns]).T for y in saved[1]]
        return features[0][:, None] if len(features) == 1 else torch.stack(features, 1)

    def lean_dinvariants(self, saved, gfeatures: torch.Tensor, columns=slice(None)):
        """∂L/∂outputs (K, cells) per sublattice from ∂L/∂features (cells, S, F) of the cells
        `columns`: the generated derivatives of the groups."""
        return [self.module.lean_dfeatures(y[:, columns], gfeatures[:, s].T.contiguous())
                for s, y in enumerate(saved[1])]

    def lean_transpose(self, saved, gys) -> torch.Tensor:
        """∂L/∂field from ∂L/∂outputs (K, batch·N) per sublattice: each part's transposed
        stencil (its blocks, then col2im, or a GEMM and a gather; the column gradients of the
        parts and centers that share channels and kernel summed before one col2im) and, for
        spin channels, stage 1 transposed."""
        field = saved[0]
        batch, cells = field.shape[0], tuple(field.shape[1:1 + self.dimension])
        gch: dict = {}  # channel list -> ∂L/∂channels (batch, N, C)
        gus: dict = {}  # (channel list, kernel radius) -> (stencil, ∂L/∂columns)
        start = 0
        for part, lean in zip(self.stencils, self._lean_parts()):
            k, key = len(part.OUTPUTS), tuple(part.CHANNELS)
            for stencil_s, gy in zip(lean, gys):
                gy = gy[start:start + k]
                if stencil_s.conv:
                    slot = (key, stencil_s.radius)
                    if slot not in gus:
                        gus[slot] = (stencil_s, gy.new_zeros(
                            (len(key) * math.prod(stencil_s.box), gy.shape[1])))
                    stencil_s.transpose_columns(gy, gus[slot][1])
                else:
                    g = stencil_s.backward(gy, cells, batch)
                    gch[key] = g if key not in gch else gch[key] + g
            start += k
        for (key, _), (stencil_s, gu) in gus.items():
            g = stencil_s.col2im(gu, cells, batch)
            gch[key] = g if key not in gch else gch[key] + g
        width = self.sublattices * self.components
        every = [("field", b, c) for b in range(self.sublattices) for c in range(self.components)]
        if len(gch) == 1 and [tuple(k) for k in next(iter(gch))] == every:
            return next(iter(gch.values())).reshape(field.shape)  # the field's own channels
        gx = torch.zeros_like(field).reshape(batch, -1, width)
        for key, g in gch.items():
            fields = [(c, k) for c, k in enumerate(key) if k[0] == "field"]
            if fields:
                cols = [k[1] * self.components + k[2] for _, k in fields]
                gx = gx.index_add(2, torch.tensor(cols, device=gx.device),
                                  g[..., [c for c, _ in fields]])
            if len(fields) < len(key):
                gs = spin_backward(field, g.reshape(batch, *cells, len(key)), key,
                                   self.dimension)
                gx = gx + gs.reshape(batch, -1, width)
        return gx.reshape(field.shape)

    def lean_forward(self, field: torch.Tensor):
        """The lean torch path at once: (features (batch, *cells, S, F), saved values for
        `lean_backward`); the field batched and checked (`check`)."""
        saved = self.lean_outputs(field)
        features = self.lean_invariants(saved)
        return features.reshape(*field.shape[:1 + self.dimension], *features.shape[1:]), saved

    def lean_backward(self, saved, gfeatures: torch.Tensor) -> torch.Tensor:
        """∂L/∂field from ∂L/∂features (batch, *cells, S, F)."""
        g = gfeatures.reshape(-1, len(self.centers), self.n_features)
        return self.lean_transpose(saved, self.lean_dinvariants(saved, g))

    def jacobian_rank(self, seed: int = 3) -> int:
        """Completeness: rank of ∂(features of one site)/∂(field) at a random configuration
        (float64, smallest lattice; singular values above 1e-9 of the largest)."""
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((1, *self.min_size, self.sublattices, self.components), generator=gen,
                        dtype=torch.float64)

        def center(z):
            return self(z, backend="torch")[(0,) * (1 + self.dimension)][0]

        jac = torch.autograd.functional.jacobian(center, x).reshape(self.n_features, -1)
        s = torch.linalg.svdvals(jac)
        return int((s > s[0] * 1e-9).sum())

    def compiled_forward(self, field: torch.Tensor) -> torch.Tensor:
        """The torch path fused by torch.compile (Inductor emits one C++/OpenMP loop nest on
        CPU): for inference and dynamics on large lattices. The first call per lattice shape
        compiles (about a minute for L = 89; cached on disk afterwards)."""
        if self._compiled is None:
            self._compiled = torch.compile(self.torch_forward, dynamic=False)
        return self._compiled(field)

    def __call__(self, field, backend: str = "auto") -> torch.Tensor:
        """Features (batch, *cells, sublattice, feature).

        backend: "auto" (Triton on CUDA or under TRITON_INTERPRET=1, else torch), "torch"
        (differentiable twice: training), "triton", or "compiled" (see compiled_forward)."""
        field, batched = self.check(field)
        if backend not in ("auto", "torch", "triton", "compiled"):
            raise DescriptorInputError(
                f"backend must be auto, torch, triton or compiled, not {backend!r}")
        if backend == "triton" or (backend == "auto" and self.use_triton(field)):
            if not self.has_triton:
                raise DescriptorInputError(f"{self.name} has no Triton kernels (family "
                                           f"{self.family}); use the torch backend")
            out = TritonFeatures.apply(field.contiguous(), self)
        elif backend == "compiled":
            out = self.compiled_forward(field)
        else:
            out = self.torch_forward(field)
        return out if batched else out[0]


class SiteClasses:
    """The descriptor of a module with one descriptor per site class (the Wyckoff orbits of
    the cell's sites, e.g. Lieb: the corner site and the two edge sites): `classes[k]` is a
    `GeneratedDescriptor` computed at the class's sites only (`centers`), with its own site
    group and features. `descriptor(field)` gives one feature tensor per class."""

    def __init__(self, namespace: dict):
        m = SimpleNamespace(**namespace)
        spec = checked_spec(m.__name__, m.SPEC_JSON, m.SPEC_HASH)
        self.spec, self.hash, self.classes = spec, m.SPEC_HASH, tuple(m.CLASSES)
        if [c.hash for c in self.classes] != [content_hash(c) for c in spec["classes"]]:
            raise DescriptorInputError(f"generated module {m.__name__}: its site-class modules "
                                       "are not the ones of its spec; regenerate it")
        first = self.classes[0]
        self.name, self.family, self.group = spec["name"], spec["family"], spec["group"]
        self.lattice, self.field = first.lattice, first.field
        self.dimension, self.sublattices = first.dimension, first.sublattices
        self.components = first.components
        self.radius = tuple(max(r) for r in zip(*(c.radius for c in self.classes)))
        self.feature_names = list(spec["features"])
        self.n_features = len(self.feature_names)

    def __repr__(self) -> str:
        return (f"<descriptor {self.name}: {self.family} on {self.lattice}, field {self.field}, "
                f"site classes {[list(c.centers) for c in self.classes]} "
                f"({', '.join(c.group for c in self.classes)}), hash {self.hash[:12]}>")

    @property
    def min_size(self) -> tuple[int, ...]:
        return tuple(2 * r + 1 for r in self.radius)

    @property
    def has_triton(self) -> bool:
        return all(c.has_triton for c in self.classes)

    def check(self, field) -> tuple[torch.Tensor, bool]:
        for c in self.classes:
            checked = c.check(field)
        return checked

    def __call__(self, field, backend: str = "auto") -> tuple[torch.Tensor, ...]:
        """Features per class: (batch, *cells, class sites, class features) each."""
        return tuple(c(field, backend=backend) for c in self.classes)

    def jacobian_rank(self, seed: int = 3) -> int:
        """The sum over classes of the rank of one class site's features."""
        return sum(c.jacobian_rank(seed) for c in self.classes)

