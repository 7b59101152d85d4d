"""Observables on states whose answer is known by hand: the honeycomb A/B charge-density wave,
the square checkerboard, the 120-degree states of the triangular and kagome lattices, a
random field; order parameters per model; snapshots at real positions."""

import math

import numpy as np
import pytest
import torch

from runtime.dynamics.observables import StructureFactor
from runtime.dynamics.simulation import _plot_field
from runtime.electrons import SD, Holstein, JahnTeller
from runtime.lattices import Lattice


def ab_wave(n=12):
    field = torch.ones(n, n, 2, 1, dtype=torch.float64)
    field[:, :, 1] = -1.0
    return field


def test_honeycomb_ab_wave_is_order_at_k0_between_sublattices():
    sf = StructureFactor.of(ab_wave(), "honeycomb")
    sites = 2 * 12 * 12
    torch.testing.assert_close(sf.wavevector, torch.zeros(2, dtype=torch.float64))
    assert sf.peak == pytest.approx(sites)  # all the weight in one mode
    form = sf.form_factor
    assert abs(float((form[0] / form[1]).real) + 1) < 1e-12  # (1, -1) / sqrt 2
    # S_ab(0) = (N_cells / 2) [[1, -1], [-1, 1]]
    torch.testing.assert_close(sf.partial[0, 0].real, 72.0 * torch.tensor(
        [[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64))
    # total S from site positions: zero at k = 0, |1 - e^{2 pi i/3}|^2 N_cells / 2 at G = b1
    assert float(sf.total()[0, 0]) == pytest.approx(0, abs=1e-9)
    assert float(sf.total([1, 0])[0, 0]) == pytest.approx(3 * 144 / 2)
    assert Holstein.order_parameters(sf)["cdw"] == pytest.approx(1.0)
    assert StructureFactor.of(0.3 * ab_wave(), "honeycomb").amplitude() == pytest.approx(0.3)
    # one domain as large as the cluster: its height sqrt(3)/2 * 12 along b, finite
    assert sf.domain_size() == pytest.approx(math.sqrt(3) / 2 * 12)


def test_checkerboard_domain_size_is_the_cluster_size():
    x, y = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((-1.0) ** (x + y)).to(torch.float64)[..., None, None]
    sf = StructureFactor.of(checkerboard, "square")
    assert sf.domain_size() == pytest.approx(16.0)
    assert Holstein.order_parameters(sf)["cdw"] == pytest.approx(1.0)
    noisy = checkerboard + 1e-6 * torch.randn(16, 16, 1, 1, dtype=torch.float64)
    assert StructureFactor.of(noisy, "square").domain_size() == pytest.approx(16.0, rel=1e-6)
    for width in (4, 8):  # checkerboard domains, walls every `width` along x: below 16
        sign = torch.where((x // width) % 2 == 0, 1.0, -1.0).to(torch.float64)
        assert StructureFactor.of(checkerboard * sign[..., None, None],
                                  "square").domain_size() < 12


def spins_120(lattice: str, n=12):
    """Triangular: angle K.r_i with K = (4 pi / 3, 0); kagome q = 0: the three sublattices
    at 0, 120, 240 degrees."""
    cells = Lattice.preset(lattice)
    if lattice == "triangular":
        angle = torch.as_tensor(cells.positions((n, n)))[..., 0] * (4 * math.pi / 3)
    else:
        angle = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3]).expand(n, n, 3)
    return torch.stack([torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)],
                       -1).to(torch.float64)


def test_120_degree_states():
    sf = StructureFactor.of(spins_120("triangular"), "triangular", centre=SD.order_centred)
    assert float(sf.wavevector.norm()) == pytest.approx(4 * math.pi / 3)  # a K point
    order = SD.order_parameters(sf)
    assert order["spin_structure_factor"] == pytest.approx(0.5)  # the other half at -K
    assert order["spin"] == pytest.approx(1.0)
    assert sf.domain_size() == pytest.approx(math.sqrt(3) / 2 * 12)
    sf = StructureFactor.of(spins_120("kagome"), "kagome", centre=SD.order_centred)
    torch.testing.assert_close(sf.wavevector, torch.zeros(2, dtype=torch.float64))
    assert SD.order_parameters(sf)["spin"] == pytest.approx(1.0)
    # a ferromagnet is order at Q = 0 for spins (not centred) ...
    ferro = torch.zeros(6, 6, 1, 3, dtype=torch.float64)
    ferro[..., 2] = 1.0
    assert SD.order_parameters(StructureFactor.of(ferro, "square", centre=False))[
        "spin"] == pytest.approx(1.0)
    # ... and a uniform Jahn-Teller distortion ferro-orbital order
    uniform = torch.zeros(6, 6, 1, 2, dtype=torch.float64)
    uniform[..., 1] = 0.5
    assert JahnTeller.order_parameters(StructureFactor.of(
        uniform, "square", centre=JahnTeller.order_centred))["orbital"] == pytest.approx(0.5)


def test_random_field_has_no_order():
    generator = torch.Generator().manual_seed(0)
    for lattice, n in (("honeycomb", 24), ("kagome", 16), ("triangular", 24)):
        field = torch.randn(n, n, Lattice.preset(lattice).sublattices, 1,
                            generator=generator, dtype=torch.float64)
        sf = StructureFactor.of(field, lattice)
        assert sf.amplitude() < 0.2, lattice
        assert sf.domain_size() < 0.25 * n * math.sqrt(3) / 2, lattice  # a few sites
        # Parseval over all sublattices: n sum_k tr S_ab(k) = sum_i (Phi_i - <Phi>)^2
        centred = field - field.mean()
        torch.testing.assert_close(sf.sublattices * sf.trace.sum(), centred.square().sum())


@pytest.mark.parametrize("lattice, size", [("honeycomb", (6, 6)), ("kagome", (5, 5)),
                                           ("triangular", (6, 6)), ("cubic", (4, 4, 4))])
def test_snapshots_draw_every_site(tmp_path, lattice, size, monkeypatch):
    import matplotlib.axes

    drawn = []
    scatter = matplotlib.axes.Axes.scatter
    monkeypatch.setattr(matplotlib.axes.Axes, "scatter",
                        lambda self, x, y, **kw: drawn.append((x, y)) or scatter(self, x, y, **kw))
    cells = Lattice.preset(lattice)
    field = torch.randn(*size, cells.sublattices, 1, dtype=torch.float64)
    _plot_field(field, tmp_path / "snapshot.png", "step 0", lattice)
    assert (tmp_path / "snapshot.png").read_bytes()[:4] == b"\x89PNG"
    (x, y), = drawn
    positions = cells.positions(size)
    if len(size) == 3:
        positions = positions[:, :, size[2] // 2]
    assert len(x) == positions[..., 0].size  # every sublattice (one layer of a 3D lattice)
    np.testing.assert_allclose(np.sort(x), np.sort(positions[..., 0].ravel()))
    np.testing.assert_allclose(np.sort(y), np.sort(positions[..., 1].ravel()))


def test_simulation_records_the_order_parameter_of_its_model(tmp_path):
    import json

    from runtime.dynamics.forces import TotalForce
    from runtime.dynamics.integrators import TDGL
    from runtime.dynamics.simulation import SimulationOptions, simulate
    from runtime.electrons.elastic import Elastic

    forces = TotalForce(Elastic("honeycomb", (6, 6), K0=1.0))
    trace = simulate(forces, TDGL(dt=0.05), ab_wave(6)[None], SimulationOptions(
        steps=4, measure_every=2), tmp_path, seed=1, progress=False, lattice="honeycomb",
        model=Holstein)
    cdw = trace.order["cdw"]
    assert cdw[0] == pytest.approx(1.0) and 0 < cdw[-1] < cdw[0]  # the wave relaxes, seen
    np.testing.assert_allclose(trace.wavevector, 0.0, atol=1e-12)
    assert trace.domain_size[0] == pytest.approx(math.sqrt(3) / 2 * 6)
    table = json.loads((tmp_path / "observables.json").read_text())
    assert "cdw" in table["columns"] and len(table["rows"][0]) == len(table["columns"])
    assert np.load(tmp_path / "observables.npz")["order_cdw"].shape == (3,)
