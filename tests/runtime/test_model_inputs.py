"""Field layout, input types, batching and the errors a user can cause."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from runtime.electrons import SD, Holstein, JahnTeller


def gaussian(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize(
    ("model", "d"),
    [(Holstein("honeycomb", 3), 1), (JahnTeller("square", 4), 2), (SD("kagome", 3), 2)],
)
def test_shapes_with_and_without_batch(model, d):
    field = gaussian((3, *model.field_shape), seed=0)
    sites = model.field_shape[:-1]
    batched = model.solve(field, filling=0.5)
    assert batched.energy.shape == (3,)
    assert batched.forces.shape == field.shape
    assert batched.density.shape == (3, *sites, d, d)
    assert batched.eigenvalues.shape == batched.occupations.shape == (3, model.n_states)
    single = model.solve(field[1], filling=0.5)
    assert single.energy.shape == ()
    assert single.forces.shape == model.field_shape
    assert single.density.shape == (*sites, d, d)
    torch.testing.assert_close(single.forces, batched.forces[1], rtol=0, atol=1e-12)
    assert model.hamiltonian(field).shape == (3, model.n_states, model.n_states)


def test_numpy_in_numpy_out():
    model = JahnTeller("square", 4)
    field = gaussian(model.field_shape, seed=1)
    reference = model.solve(field, mu=0.0, temperature=0.1)
    result = model.solve(field.numpy(), mu=0.0, temperature=0.1)
    assert isinstance(result.energy, np.float64)
    for name in ("forces", "density", "eigenvalues", "occupations"):
        assert isinstance(getattr(result, name), np.ndarray)
        np.testing.assert_allclose(
            getattr(result, name), getattr(reference, name).numpy(), atol=1e-12
        )
    assert isinstance(model.elastic_forces(field.numpy()), np.ndarray)
    assert isinstance(model.elastic_energy(field.numpy()), np.float64)


def test_integer_and_float32_fields_are_solved_in_float64():
    model = Holstein("square", 4)
    ints = torch.ones(model.field_shape, dtype=torch.int64)
    assert model.solve(ints).forces.dtype == torch.float64
    result = model.solve(np.ones(model.field_shape, dtype=np.float32))
    assert result.forces.dtype == np.float64
    assert result.energy == pytest.approx(model.solve(ints).energy.item())


def test_batch_equals_single_solves_across_chunks():
    model = SD("square", 4, J=2.0)
    spins = gaussian((5, *model.field_shape), seed=2)
    model._chunk = 2  # force three chunks
    batch = model.solve(spins, filling=0.4)
    for b in range(5):
        single = model.solve(spins[b], filling=0.4)
        torch.testing.assert_close(single.energy, batch.energy[b], rtol=0, atol=1e-12)
        torch.testing.assert_close(single.density, batch.density[b], rtol=0, atol=1e-12)


def test_electron_number_and_density_trace():
    model = Holstein("square", 6)
    result = model.solve(gaussian(model.field_shape, seed=3), filling=0.3)
    assert result.n_electrons.item() == 11  # floor(0.3 * 36 + 1/2)
    assert result.density.sum().item() == pytest.approx(11)


def test_hamiltonian_matrix_elements():
    model = Holstein("square", 4, t=0.7, g=1.3)
    q = gaussian(model.field_shape, seed=4)
    h = model.hamiltonian(q)
    np.testing.assert_allclose(torch.diagonal(h), -1.3 * q.reshape(-1))
    off = h - torch.diag(torch.diagonal(h))
    assert torch.equal(off, off.T)
    assert set(off.unique().tolist()) == {0.0, -0.7}
    assert ((off != 0).sum(1) == 4).all()

    def site(x, y):  # C order of (cells, sublattice)
        return (x % 4) * 4 + y % 4

    assert h[site(1, 1), site(2, 1)] == h[site(1, 1), site(1, 0)] == -0.7
    sd = SD("square", 4).hamiltonian(gaussian(SD("square", 4).field_shape, seed=5))
    assert sd.dtype == torch.complex128
    assert torch.equal(sd, sd.mH)


def test_repr_names_the_parameters():
    assert (
        repr(SD("cubic", 3, J=4.0))
        == "SD(lattice='cubic', size=(3, 3, 3), t=1.0, J=4.0, K0=0.0, K1=0.0)"
    )


def test_runtime_never_imports_sympy_nor_the_exact_grouptheory():
    """The runtime reads the preset table and its number parser (sympy-free) only."""
    code = (
        "import sys, runtime.electrons, runtime.lattices, runtime.electrons.ensembles, runtime.electrons.diagonalization;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'grouptheory')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    sympy_free = ["grouptheory", "grouptheory.errors", "grouptheory.numbers", "grouptheory.presets"]
    assert output.stdout.strip() == str(sympy_free)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "shape", [(6, 6), (6, 6, 1, 2), (6, 6, 2, 3), (2, 5, 6, 1, 3), (0, 6, 6, 1, 3)]
)
def test_wrong_shape_names_the_expected_layout(shape):
    model = SD("square", 6)
    expected = (
        r"SD on square \(6, 6\): field must have shape \(6, 6, 1, 3\) or \(batch, 6, 6, 1, 3\)"
    )
    with pytest.raises(ValueError, match=expected):
        model.solve(torch.zeros(shape))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_field(bad):
    model = Holstein("square", 4)
    field = torch.zeros(model.field_shape)
    field[2, 1, 0, 0] = bad
    with pytest.raises(ValueError, match=r"NaN or infinite.*first at index \(2, 1, 0, 0\)"):
        model.solve(field)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.elastic_energy(field.numpy())


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (torch.zeros((4, 4, 1, 1), dtype=torch.complex128), "real numbers"),
        (torch.zeros((4, 4, 1, 1), dtype=torch.bool), "real numbers"),
        (np.zeros((4, 4, 1, 1), dtype=complex), "real numbers"),
        ([[0.0] * 4] * 4, "torch.Tensor or numpy.ndarray"),
    ],
)
def test_wrong_field_type(field, message):
    with pytest.raises(TypeError, match=message):
        Holstein("square", 4).solve(field)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"filling": 0.0}, "filling must lie strictly between 0 and 1"),
        ({"filling": 1.0}, "filling must lie strictly between 0 and 1"),
        ({"filling": 1.3}, "filling must lie strictly between 0 and 1"),
        ({"mu": 0.0, "temperature": -1.0}, "temperature must be >= 0"),
        ({"temperature": 0.1}, "needs both mu and temperature"),
    ],
)
def test_bad_ensemble(keywords, message):
    model = Holstein("square", 4)
    with pytest.raises(ValueError, match=message):
        model.solve(torch.zeros(model.field_shape), **keywords)


def test_bad_model_construction():
    with pytest.raises(ValueError, match="bonds along the Cartesian axes.*'square' or 'cubic'"):
        JahnTeller("triangular", 4)
    with pytest.raises(ValueError, match="unknown lattice 'sq'; known lattices: square"):
        Holstein("sq", 4)
    with pytest.raises(ValueError, match=r"too small for shell-1 bonds on the square lattice"):
        SD("square", (6, 2))
    with pytest.raises(ValueError, match="g must be finite"):
        Holstein("square", 4, g=math.nan)
    with pytest.raises(TypeError, match="t must be a real number"):
        SD("square", 4, t="1")
    with pytest.raises(ValueError, match="a lattice is a preset name .* or a table"):
        Holstein(3, 4)
