"""The ML force field: exact equivariance, conservation, save/load, and refusal of bad input."""

import pickle

import numpy as np
import pytest
import torch

import generated
from runtime.ml.forcefield import ForceField, ForceFieldError, read_metadata
from runtime.ml.network import NetworkConfig, Standardizer
from runtime.ml.symmetry import equivariance_error, lattice_actions, transform

SMALL = NetworkConfig(widths=(16, 16), activation="celu")
CASES = [  # descriptor, cells: scalar, two-component (JT doublet), spin, two sublattices
    ("square_scalar_reference", (11, 11)),
    ("square_jahn_teller_reference", (8, 8)),
    ("square_spin_phase", (6, 6)),
    ("honeycomb_scalar_reference", (6, 6)),
]


def random_model(name: str, seed: int = 0) -> ForceField:
    torch.manual_seed(seed)
    model = ForceField(generated.load(name), SMALL)
    with torch.no_grad():  # a nontrivial standardization, so it is exercised too
        model.standardizer.mean.normal_()
        model.standardizer.scale.uniform_(0.5, 2.0)
        model.shift.fill_(0.3)
        model.scale.fill_(1.7)
    return model


def random_field(model: ForceField, cells, batch=2, seed=1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *cells, *model.field_shape_tail), generator=generator,
                       dtype=torch.float64)


@pytest.mark.parametrize("name,cells", CASES)
def test_forces_are_exactly_equivariant(name, cells):
    """F(g Phi) = g F(Phi) for every site-group operation g of the whole periodic lattice."""
    model = random_model(name)
    field = random_field(model, cells)
    energy, forces = model.energy_and_forces(field)
    maps = lattice_actions(model.descriptor, cells)
    assert len(maps) > 1
    for perm, matrix in maps:
        moved = transform(field, perm, matrix)
        moved_energy, moved_forces = model.energy_and_forces(moved)
        torch.testing.assert_close(moved_energy, energy, rtol=0, atol=1e-10)
        torch.testing.assert_close(moved_forces, transform(forces, perm, matrix), rtol=0,
                                   atol=1e-10)


def test_equivariance_error_is_zero_with_a_descriptor_and_not_without():
    """The symmetry error of the paper's comparison: a network on the raw neighborhood."""
    fields = random_field(random_model("square_scalar_reference"), (14, 14))
    actions = lattice_actions(generated.load("square_scalar_reference"), (14, 14))
    invariant = equivariance_error(random_model("square_scalar_reference").forces, fields,
                                   actions)
    raw = equivariance_error(random_model("square_scalar_raw").forces, fields, actions)
    assert invariant["operations"] == 7 and invariant["configurations"] == 2
    assert invariant["max"] < 1e-12
    assert raw["mean"] > 1e-2 and raw["max"] >= raw["mean"]


def test_forces_are_translation_equivariant():
    model = random_model("square_jahn_teller_reference")
    field = random_field(model, (8, 9))
    _, forces = model.energy_and_forces(field)
    _, shifted = model.energy_and_forces(field.roll((3, -2), (1, 2)))
    torch.testing.assert_close(shifted, forces.roll((3, -2), (1, 2)), rtol=0, atol=1e-10)


def test_forces_are_conservative():
    """-∫ F · dPhi along a curved path equals E(end) - E(start). A smooth descriptor (power
    spectrum) and activation (SiLU) make the integrand analytic, so Gauss–Legendre quadrature
    converges to rounding; the reference-IR and ACSF features have kinks (their normalization
    and cutoffs) where quadrature converges only algebraically."""
    torch.manual_seed(0)
    model = ForceField(generated.load("square_scalar_power"), NetworkConfig((16, 16), "silu"))
    start, step, bend = (random_field(model, (11, 11), batch=1, seed=s) for s in (1, 2, 3))
    nodes, weights = np.polynomial.legendre.leggauss(32)
    work = 0.0
    for s, w in zip((nodes + 1) / 2, weights / 2):
        point = start + s * step + np.sin(np.pi * s) * 0.5 * bend
        velocity = step + np.pi * np.cos(np.pi * s) * 0.5 * bend
        work += w * float((model.forces(point) * velocity).sum())
    difference = float((model.energy(start + step) - model.energy(start)).detach())
    assert abs(difference) > 0.1
    assert abs(-work - difference) <= 1e-10 * abs(difference)


@pytest.mark.parametrize("block_rows", [1, 4, 7])
def test_blockwise_forces_equal_whole_lattice_forces(block_rows):
    """Energies and forces computed in row blocks (with halos) equal the whole-lattice ones."""
    model = random_model("square_jahn_teller_reference")
    field = random_field(model, (17, 9))
    energy, forces = model.energy_and_forces(field)
    model.block_rows = block_rows
    blocked_energy, blocked_forces = model.energy_and_forces(field)
    torch.testing.assert_close(blocked_energy, energy, rtol=1e-13, atol=1e-12)
    torch.testing.assert_close(blocked_forces, forces, rtol=1e-13, atol=1e-12)


def test_save_load_round_trip(tmp_path):
    model = random_model("square_jahn_teller_reference")
    model.metadata["training"] = {"epochs": 3}
    path = model.save(tmp_path / "model.pt")
    loaded = ForceField.load(path)
    field = random_field(model, (7, 7))
    torch.testing.assert_close(loaded.energy_and_forces(field), model.energy_and_forces(field),
                               rtol=0, atol=0)
    record = read_metadata(path)
    assert record["descriptor"] == {"name": model.descriptor.name, "hash": model.descriptor.hash}
    assert record["network"] == {"widths": [16, 16], "activation": "celu"}
    assert loaded.metadata["training"] == {"epochs": 3}


def test_load_refuses_another_descriptor(tmp_path):
    path = random_model("square_scalar_reference").save(tmp_path / "model.pt")
    with pytest.raises(ForceFieldError, match="trained with descriptor square_scalar_reference"):
        ForceField.load(path, generated.load("square_scalar_power"))


def test_load_never_unpickles(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    path = tmp_path / "evil.pt"
    payload = {"format": "latticeff-forcefield", "x": Payload()}
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ForceFieldError, match="not a readable latticeff model"):
        ForceField.load(path)
    with pytest.raises(ForceFieldError, match="no model file"):
        ForceField.load(tmp_path / "missing.pt")


def test_wrong_field_is_refused():
    model = random_model("square_scalar_reference")
    with pytest.raises(ValueError, match="smaller than the stencil"):
        model.forces(torch.zeros(1, 6, 6, 1, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="sublattice, component"):
        model.forces(torch.zeros(1, 12, 12, 1, 2, dtype=torch.float64))
    with pytest.raises(ForceFieldError, match="must have shape"):
        model.forces(torch.zeros(12, 12, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        model.forces(torch.full((1, 12, 12, 1, 1), float("nan"), dtype=torch.float64))


def test_standardizer_and_config():
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]], dtype=torch.float64)
    s = Standardizer.fit(x)
    torch.testing.assert_close(s(x), torch.tensor([[-1.0, 0.0], [1.0, 0.0]],
                                                  dtype=torch.float64))
    with pytest.raises(ValueError, match="activation"):
        NetworkConfig(activation="relu")
    with pytest.raises(ValueError, match="widths"):
        NetworkConfig(widths=(8, 0))
