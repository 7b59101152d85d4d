"""The lean torch path (generated stencil matrix, grouped stage 3 and its generated
backward, the hand-written network backward) against the autograd reference path."""

import math

import pytest
import torch

import generated
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from tests.generated.parts import catalog_descriptors

DESCRIPTORS = catalog_descriptors()
NAMES = list(DESCRIPTORS)


def _field(descriptor, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    size = tuple(max(m, 4) + 1 for m in descriptor.min_size)
    x = torch.randn((batch, *size, descriptor.sublattices, descriptor.components),
                    generator=gen, dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True) if descriptor.field == "spin" else x


def _model(descriptor, activation="silu"):
    torch.manual_seed(1)
    model = ForceField(descriptor, NetworkConfig((16, 8), activation), path="autograd")
    with torch.no_grad():
        model.standardizer.mean.normal_()
        model.standardizer.scale.uniform_(0.5, 2.0)
        model.shift.fill_(0.3)
        model.scale.fill_(1.7)
    return model


def _relative(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("name", NAMES)
def test_lean_features_and_backward_equal_autograd(name):
    d = DESCRIPTORS[name]
    x = _field(d)
    xr = x.clone().requires_grad_(True)
    reference = d(xr, backend="torch")
    g = torch.randn_like(reference)
    (gx_reference,) = torch.autograd.grad((reference * g).sum(), xr)
    with torch.inference_mode():
        features, saved = d.lean_forward(x)
        gx = d.lean_backward(saved, g)
    assert _relative(features, reference) < 1e-12
    assert _relative(gx, gx_reference) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_lean_forces_equal_autograd_float64_and_float32(name):
    d = DESCRIPTORS[name]
    model, x = _model(d), _field(d)
    energy, forces = model.energy_and_forces(x)
    model.path = "lean"
    lean_energy, lean_forces = model.energy_and_forces(x)
    assert _relative(lean_energy, energy) < 1e-12
    assert _relative(lean_forces, forces) < 1e-12
    model.dtype = torch.float32
    energy32, forces32 = model.energy_and_forces(x)
    assert forces32.dtype == torch.float64 and model.precision == "float32"
    # corrmatrix: float32 eigenvectors of nearly degenerate eigenvalues give ~2e-4
    bar = 1e-3 if d.family == "corrmatrix" else 1e-5
    assert _relative(energy32, energy) < 1e-5
    assert _relative(forces32, forces) < bar


@pytest.mark.parametrize("activation", ["silu", "tanh", "softplus", "celu", "gelu"])
def test_lean_network_backward_for_every_activation(activation):
    d = generated.load("square_scalar_power")
    model, x = _model(d, activation), _field(d)
    energy, forces = model.energy_and_forces(x)
    model.path = "lean"
    lean_energy, lean_forces = model.energy_and_forces(x)
    assert _relative(lean_energy, energy) < 1e-12
    assert _relative(lean_forces, forces) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_im2col_stencil_equals_the_gather_stencil(name):
    """Where a part's stencil runs as a dense kernel (im2col + GEMM, its transpose by
    col2im over the periodic halo), outputs and channel gradients equal those of the tap
    gather, on a batch of two non-square lattices."""
    d = DESCRIPTORS[name]
    gen = torch.Generator().manual_seed(4)
    cells = tuple(m + 1 + a for a, m in enumerate(d.min_size))
    for part, lean in zip(d.stencils, d._lean_parts()):
        for stencil_s in lean:
            if not stencil_s.conv:
                continue
            ch = torch.randn((2, math.prod(cells), stencil_s.n_channels), generator=gen,
                             dtype=torch.float64)
            y = stencil_s.forward(ch, cells)
            gy = torch.randn(y.shape, generator=gen, dtype=torch.float64)
            gch = stencil_s.backward(gy, cells, 2)
            stencil_s.conv = False
            try:
                y_gather, gch_gather = (stencil_s.forward(ch, cells),
                                        stencil_s.backward(gy, cells, 2))
            finally:
                stencil_s.conv = True
            assert _relative(y, y_gather) < 1e-13
            assert _relative(gch, gch_gather) < 1e-13


def test_catalog_has_both_stencil_kinds_in_two_and_three_dimensions():
    """The im2col path runs on the scalar and multi-site families (2D by F.fold, 3D by the
    shifted adds), the gather on the spin families' sparse bond channels."""
    kinds = {(d.dimension, d.field, s.conv) for d in DESCRIPTORS.values()
             for lean in d._lean_parts() for s in lean}
    assert {(2, "scalar", True), (3, "scalar", True), (2, "spin", False)} <= kinds
    assert (2, "spin", True) not in kinds


def test_lean_blocks_equal_the_whole_lattice():
    d = generated.load("square_scalar_reference")
    model, x = _model(d), _field(d)
    model.path = "lean"
    energy, forces = model.energy_and_forces(x)
    model.block_rows = 4
    block_energy, block_forces = model.energy_and_forces(x)
    assert _relative(block_energy, energy) < 1e-12
    assert _relative(block_forces, forces) < 1e-12


@pytest.mark.parametrize("name", ["square_scalar_reference", "cubic_scalar_reference",
                                  "honeycomb_scalar_reference", "square_spin_phase"])
def test_lean_training_gradients_equal_autograd(name):
    """The force loss through the lean path (create_graph) has the weight gradients of the
    double-backward autograd path (im2col stencils in 2D and 3D, multi-site, gather)."""
    d = generated.load(name)
    model, x = _model(d), _field(d)
    target = torch.randn_like(x)

    def gradients():
        energy, forces = model.energy_and_forces(x, create_graph=True)
        loss = (forces - target).square().mean() + 1e-3 * energy.square().mean()
        return torch.autograd.grad(loss, list(model.network.parameters()))

    reference = gradients()
    model.path = "lean"
    for a, b in zip(gradients(), reference):
        assert _relative(a, b) < 1e-12
    model.dtype = torch.float32  # the float32 training batches
    for a, b in zip(gradients(), reference):
        assert _relative(a, b) < 1e-4


def test_lean_forces_follow_weight_updates():
    """The folded layers kept between calls are refolded when a weight, the standardizer
    or the dtype changes."""
    d = generated.load("square_scalar_reference")
    model, x = _model(d), _field(d)
    model.path = "lean"
    model.energy_and_forces(x)
    with torch.no_grad():
        model.network.layers[0].weight.mul_(1.5)
        model.standardizer.mean.add_(0.25)
    _, forces = model.energy_and_forces(x)
    model.dtype = torch.float32
    _, forces32 = model.energy_and_forces(x)
    model.path, model.dtype = "autograd", torch.float64
    _, reference = model.energy_and_forces(x)
    assert _relative(forces, reference) < 1e-12
    assert _relative(forces32, reference) < 1e-5
