"""Generated descriptors: exact symmetry, Triton = torch, gradients, completeness, input."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import generated
from generated._support import DescriptorInputError
from runtime.ml.symmetry import lattice_actions, move_sites, transform
from tests.generated.parts import catalog_descriptors

DESCRIPTORS = catalog_descriptors()
CATALOG = list(DESCRIPTORS)
INVARIANT = [n for n in CATALOG if DESCRIPTORS[n].family != "raw"]
TRITON = [n for n in CATALOG if DESCRIPTORS[n].has_triton]
FULL_RANK = {"square_scalar_reference", "square_scalar_bispectrum",
             "square_jahn_teller_reference", "honeycomb_scalar_reference",
             "cubic_scalar_reference", "square_spin_phase", "triangular_spin_phase",
             "kagome_spin_phase"}


def make_field(descriptor, cells=None, batch=2, seed=0, dtype=torch.float64):
    cells = cells or tuple(max(m, 4) for m in descriptor.min_size)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *cells, descriptor.sublattices, descriptor.components),
                       generator=gen, dtype=dtype)


def on_every_site(d, features):
    """Features at the descriptor's centers (a site class, or every sublattice) placed in a
    (…, sublattice, F) tensor, zeros at the other sites."""
    full = features.new_zeros((*features.shape[:-2], d.sublattices, features.shape[-1]))
    full[..., list(d.centers), :] = features
    return full


@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_under_every_site_group_operation(name):
    d = DESCRIPTORS[name]
    x = make_field(d)
    cells = tuple(x.shape[1:1 + d.dimension])
    base = on_every_site(d, d(x, backend="torch"))
    for perm, matrix in lattice_actions(d, cells):
        moved = on_every_site(d, d(transform(x, perm, matrix), backend="torch"))
        expected = move_sites(base, perm)
        scale = 1 + base.abs().max()
        assert (moved - expected).abs().max() / scale < 1e-10


def test_raw_features_are_the_neighborhood_in_an_orthonormal_basis_and_not_invariant():
    """The no-descriptor baseline: |f|² = Σ_j Q_j² over the L = 89 sites, every IR block
    moves with its irrep matrix, so the features change under the site group."""
    from grouptheory import Lattice

    d = generated.load("square_scalar_raw")
    x = make_field(d, cells=(15, 15), batch=1)
    features = d(x, backend="torch")
    offsets = [site.cell for site in Lattice.square().neighborhood(shells=14).sites]
    assert len(offsets) == d.n_features == 89
    norm = sum(x.roll((-int(a), -int(b)), (1, 2)).square() for a, b in offsets)[..., 0]
    torch.testing.assert_close(features.square().sum(-1), norm, rtol=1e-12, atol=0)
    moved = d(transform(x, *lattice_actions(d, (15, 15))[1]), backend="torch")
    assert (moved.square().sum(-1).sum() - features.square().sum(-1).sum()).abs() < 1e-9
    assert (moved.sort(-1).values - features.sort(-1).values).abs().max() > 1e-3


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    return torch.tensor(q * np.sign(np.linalg.det(q)))


@pytest.mark.parametrize("name", [n for n in CATALOG if "spin" in n])
def test_spin_descriptors_invariant_under_global_rotations(name):
    d = DESCRIPTORS[name]
    x = make_field(d)
    base = d(x, backend="torch")
    for seed in range(3):
        rotated = d(x @ _rotation(seed).T, backend="torch")
        assert (rotated - base).abs().max() / (1 + base.abs().max()) < 1e-10


def _energy(d, x):
    """An arbitrary smooth energy of the features (fixed random weights)."""
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(d.n_features, generator=gen, dtype=x.dtype) / d.n_features
    f = d(x, backend="torch")
    return torch.tanh(f / (1 + f.detach().abs().mean()) @ w).sum()


@pytest.mark.parametrize("name", INVARIANT)
def test_forces_are_equivariant(name):
    d = DESCRIPTORS[name]
    x = make_field(d, batch=1).requires_grad_(True)
    (force,) = torch.autograd.grad(-_energy(d, x), x)
    cells = tuple(x.shape[1:1 + d.dimension])
    for perm, matrix in lattice_actions(d, cells)[:8]:
        y = transform(x.detach(), perm, matrix).requires_grad_(True)
        (moved,) = torch.autograd.grad(-_energy(d, y), y)
        expected = transform(force, perm, matrix)
        assert (moved - expected).abs().max() / (1 + force.abs().max()) < 1e-10


def _parity(d, dtype, tol):
    """Triton (interpreter) == torch, forward and backward, on one batch (field and weights
    of fixed seeds: the float32 rounding differences do not depend on the test order)."""
    x = make_field(d, batch=1, dtype=dtype).requires_grad_(True)
    a, b = d(x, backend="torch"), d(x, backend="triton")
    assert (a - b).abs().max() / a.detach().abs().max() < tol
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(1), dtype=a.dtype)
    (ga,) = torch.autograd.grad((a * w).sum(), x)
    (gb,) = torch.autograd.grad((b * w).sum(), x)
    assert (ga - gb).abs().max() / ga.abs().max() < tol


@pytest.mark.parametrize("name", TRITON)
def test_triton_equals_torch_in_float32(name):
    _parity(DESCRIPTORS[name], torch.float32, 1e-5)


def test_triton_equals_torch_in_float64():
    """One float64 case: spins (bond and chirality channels, the spin backward pass) and a
    descriptor with two stencil parts."""
    _parity(generated.load("square_spin_phase"), torch.float64, 1e-12)


def test_auto_dispatch_uses_triton_under_the_interpreter():
    d = generated.load("square_scalar_reference")
    x = make_field(d, batch=1)
    assert d.use_triton(x)
    assert torch.equal(d(x), d(x, backend="triton"))
    assert not generated.load("square_scalar_corrmatrix").use_triton(x)


@pytest.mark.parametrize("name", ["square_scalar_power", "square_spin_phase",
                                  "honeycomb_scalar_reference", "square_spin_acsf"])
def test_gradcheck_and_double_backward_on_the_torch_path(name):
    d = DESCRIPTORS[name]
    x = make_field(d, cells=d.min_size, batch=1).requires_grad_(True)
    w = torch.randn(d.n_features, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: d(z, backend="torch") @ w, (x,))
    energy = (d(x, backend="torch") @ w).sum()
    (force,) = torch.autograd.grad(energy, x, create_graph=True)
    (second,) = torch.autograd.grad(force.square().sum(), x)  # force-loss training needs this
    assert torch.isfinite(second).all() and second.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(FULL_RANK) + ["square_scalar_power"])
def test_completeness_by_jacobian_rank(name):
    from codegen.catalog import CATALOG as SPECS
    from grouptheory import Lattice

    d = DESCRIPTORS[name]
    lattice, _, _, shells, _ = SPECS[name]
    dim = len(Lattice.preset(lattice).neighborhood(shells=shells)) * d.components
    dim -= 3 if d.field == "spin" else 0  # invariant under global rotations
    rank = d.jacobian_rank()
    if name in FULL_RANK:
        assert rank == dim
    else:
        assert rank < dim


def test_corrmatrix_has_one_eigenvalue_per_site():
    assert generated.load("square_scalar_corrmatrix").n_features == 89  # L = 89


def test_a_module_whose_spec_does_not_match_its_hash_is_refused(tmp_path):
    from generated._spec import SpecHashError

    source = Path(generated.__file__).parent
    text = (source / "square_spin_phase.py").read_text()
    tampered = text.replace('"bond_shells": 1', '"bond_shells": 2', 1)
    assert tampered != text
    (tmp_path / "square_spin_phase.py").write_text(tampered)
    shutil.copytree(source / "stencils", tmp_path / "stencils")
    with pytest.raises(SpecHashError, match="embedded spec hashes to .* not to its SPEC_HASH"):
        generated.load_file(tmp_path / "square_spin_phase.py")


def test_bad_input_is_rejected_clearly():
    d = generated.load("square_scalar_reference")
    with pytest.raises(DescriptorInputError, match="torch.Tensor"):
        d(np.zeros((11, 11, 1, 1)))
    with pytest.raises(DescriptorInputError, match="float32 or float64"):
        d(torch.zeros((11, 11, 1, 1), dtype=torch.int64))
    with pytest.raises(DescriptorInputError, match="expected shape"):
        d(torch.zeros((11, 11, 1)))
    with pytest.raises(DescriptorInputError, match=r"\(sublattice, component\) = \(1, 1\)"):
        d(torch.zeros((11, 11, 1, 3)))
    with pytest.raises(DescriptorInputError, match="smaller than the stencil"):
        d(torch.zeros((8, 11, 1, 1)))
    x = torch.zeros((11, 11, 1, 1))
    x[3, 4, 0, 0] = float("nan")
    with pytest.raises(DescriptorInputError, match=r"NaN/inf, first at \[3, 4, 0, 0\]"):
        d(x)
    with pytest.raises(DescriptorInputError, match="no Triton kernels"):
        generated.load("square_scalar_corrmatrix")(torch.zeros((11, 11, 1, 1)),
                                                    backend="triton")
    with pytest.raises(KeyError, match="no generated descriptor 'hexagon'"):
        generated.load("hexagon")


def test_unbatched_input_and_output_layout():
    d = generated.load("honeycomb_scalar_reference")
    x = make_field(d, batch=1)
    single = d(x[0], backend="torch")
    assert single.shape == (*x.shape[1:-2], 2, d.n_features)
    assert torch.equal(single, d(x, backend="torch")[0])
