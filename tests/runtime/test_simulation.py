"""ML dynamics: the elastic force, structure factor and domain size, outputs, NaN handling."""

import math

import numpy as np
import pytest
import torch

import generated
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import TDGL, Langevin
from runtime.dynamics.observables import domain_size, ordering_wavevector, structure_factor
from runtime.dynamics.simulation import SimulationError, SimulationOptions, simulate
from runtime.electrons import Holstein
from runtime.electrons.elastic import Elastic
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig


def test_elastic_matches_the_model():
    model = Holstein("square", (5, 6), K0=0.7, K1=0.3)
    field = model.random_field(2, seed=3)
    energy, forces = Elastic("square", (5, 6), K0=0.7, K1=0.3).energy_and_forces(field)
    torch.testing.assert_close(energy, model.elastic_energy(field), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(forces, model.elastic_forces(field), rtol=1e-13, atol=1e-13)


def test_structure_factor_and_domain_size():
    x, y = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((-1.0) ** (x + y)).to(torch.float64)[..., None, None]
    s, k = structure_factor(checkerboard)
    torch.testing.assert_close(ordering_wavevector(s, k).abs(),
                               torch.tensor([math.pi, math.pi], dtype=torch.float64))
    assert domain_size(s, k) == math.inf
    # Parseval: sum_k S(k) = sum_r (Phi_r - <Phi>)^2
    field = torch.randn(16, 16, 1, 2, dtype=torch.float64)
    s, k = structure_factor(field)
    centred = field - field.mean((0, 1))
    torch.testing.assert_close(s.sum(), centred.square().sum())
    # two checkerboard domains of width 8 are smaller than four of width 4 ... in reverse
    sizes = []
    for width in (4, 8):
        sign = torch.where((x // width) % 2 == 0, 1.0, -1.0).to(torch.float64)
        s, k = structure_factor(checkerboard * sign[..., None, None])
        sizes.append(domain_size(s, k))
    assert sizes[0] < sizes[1] < math.inf


def small_forces(size=12) -> TotalForce:
    torch.manual_seed(0)
    model = ForceField(generated.load("square_scalar_reference"), NetworkConfig((8,)))
    return TotalForce(model, Elastic("square", (size, size), K0=1.0))


def test_simulation_writes_its_outputs(tmp_path):
    forces = small_forces()
    field = torch.randn(1, 12, 12, 1, 1, dtype=torch.float64)
    trace = simulate(forces, Langevin(dt=0.05, damping=0.5, temperature=0.05), field,
                     SimulationOptions(steps=6, measure_every=2, snapshot_every=3), tmp_path,
                     seed=1, progress=False)
    assert trace.step.tolist() == [0, 2, 4, 6]
    assert np.isfinite(trace.energy_per_site).all()
    names = {p.name for p in tmp_path.iterdir()}
    assert {"snapshot_0000000.png", "snapshot_0000003.png", "snapshot_0000006.png",
            "structure_factor.png", "domain_size.png", "observables.npz", "observables.json",
            "final_state.npz"} <= names
    assert (tmp_path / "domain_size.png").read_bytes()[:4] == b"\x89PNG"


def test_nan_stops_with_the_step_and_saves_the_last_good_state(tmp_path):
    class Breaking(TotalForce):
        calls = 0

        def __call__(self, field):
            self.calls += 1
            result = super().__call__(field)
            return result * math.nan if self.calls > 4 else result  # init + 3 good steps

    good = small_forces()
    breaking = Breaking(*good.terms)
    field = torch.randn(1, 12, 12, 1, 1, dtype=torch.float64)
    with pytest.raises(SimulationError, match="at step 4 .*last good state \\(step 3\\)"):
        simulate(breaking, TDGL(dt=0.05), field, SimulationOptions(steps=10), tmp_path,
                 seed=1, progress=False)
    saved = np.load(tmp_path / "last_good_state.npz")
    assert int(saved["step"]) == 3 and np.isfinite(saved["field"]).all()
