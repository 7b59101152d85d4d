"""Temporal blocking of the KPM sweeps over lattice tiles: every site in one tile, halos that
hold every site within `depth` hops, and tiled sweeps that give the untiled forces and
energies to rounding on every kind of lattice, model and ensemble."""

import numpy as np
import pytest
import torch
from scipy.sparse import csgraph

from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.kpm import KPMError, KPMForces
from runtime.electrons.tiling import Tiling


def hopping_of(model):
    return model.sparse_hopping()


@pytest.mark.parametrize(("lattice", "size", "extent", "depth"), [
    ("square", 12, 5, 2), ("kagome", 9, 4, 3), ("cubic", 6, 3, 1)])
def test_tiles_partition_the_sites_and_halos_reach_depth_hops(lattice, size, extent, depth):
    model = SD(lattice, size)
    tiling = Tiling(model.size, model.orbitals, hopping_of(model), extent, depth)
    order = tiling.order.numpy()
    assert sorted(order) == list(range(model.n_sites)) and len(tiling.domains) > 1
    cores = np.concatenate([np.arange(d.core_sites.start, d.core_sites.stop)
                            for d in tiling.domains])
    np.testing.assert_array_equal(np.sort(cores), np.arange(model.n_sites))
    graph = np.zeros((model.n_sites, model.n_sites))
    graph[model.bonds.source, model.bonds.target] = 1
    hops = csgraph.shortest_path(graph + graph.T, unweighted=True)
    for domain in tiling.domains:
        core = order[np.arange(domain.core_sites.start, domain.core_sites.stop)]
        sites = order[domain.sites.numpy()]
        np.testing.assert_array_equal(sites[:len(core)], core)
        within = np.flatnonzero(hops[core].min(0) <= depth)
        np.testing.assert_array_equal(np.sort(sites), within)


def test_one_tile_of_the_whole_cluster_keeps_its_numbering():
    model = Holstein("square", 8)
    tiling = Tiling(model.size, model.orbitals, hopping_of(model), 8, 4)
    assert tiling.whole and len(tiling.domains) == 1 and tiling.halo_fraction == 0.0
    np.testing.assert_array_equal(tiling.order, np.arange(model.n_sites))


@pytest.mark.parametrize(("Model", "lattice", "size", "electrons"), [
    (Holstein, "triangular", 12, {"filling": 0.5}),
    (JahnTeller, "square", 12, {"filling": 0.5}),
    (JahnTeller, "cubic", 8, {"mu": 0.3, "temperature": 0.1}),
    (SD, "square", 12, {"filling": 0.5}),
    (SD, "kagome", 10, {"mu": 0.0, "temperature": 0.0}),
])
@pytest.mark.parametrize(("batch", "probe_block", "dtype"), [
    (2, None, "float64"), (1, 3, "float64"), (1, None, "float32")])
def test_tiled_sweeps_give_the_untiled_forces(Model, lattice, size, electrons, batch,
                                              probe_block, dtype):
    model = Model(lattice, size)
    fields = model.random_field(batch, seed=3)
    options = dict(moments=40, probing_distance=3, probe_block=probe_block, dtype=dtype,
                   **electrons)
    whole = KPMForces(model, tile=0, **options).evaluate(fields)
    tolerance = 1e-12 if dtype == "float64" else 1e-5 * float(whole.forces.abs().max())
    energy_rtol = 1e-13 if dtype == "float64" else 1e-5
    for extent, depth in ((3, 2), (4, 1)):
        tiled = KPMForces(model, tile=extent, tile_depth=depth, **options)
        result = tiled.evaluate(fields)
        states = model.n_states
        assert len(tiled.tiling.domains) > 1
        assert all(len(d.states) < states for d in tiled.tiling.domains)  # hoppings cut
        torch.testing.assert_close(result.forces, whole.forces, rtol=0, atol=tolerance)
        torch.testing.assert_close(result.energy, whole.energy, rtol=energy_rtol, atol=0)


def test_large_blocks_are_tiled_by_default_and_small_ones_are_not():
    small = KPMForces(Holstein("square", 30), filling=0.5, moments=20)
    small.evaluate(small.model.random_field(seed=1))
    assert all(t.whole for t in small._tilings.values())
    large = KPMForces(Holstein("square", 200), filling=0.5, moments=4, dtype="float32",
                      probing_distance=2)
    assert not large._tiling(32).whole
    assert large._tiling(32) is large._tiling(33)  # one tiling per grid of tiles
    # in 3D, tiles whose domains fit the cache would be mostly halo: none
    cubic = KPMForces(Holstein("cubic", 40), filling=0.5, moments=4, dtype="float32",
                      probing_distance=2)
    assert cubic.model.n_states * 32 * 4 * 8 > 24 * 2**20 and cubic._tiling(32).whole


@pytest.mark.parametrize(("options", "message"), [
    ({"tile": -1}, "tile must be an integer >= 0"),
    ({"tile": 2.5}, "tile must be an integer >= 0"),
    ({"tile": True}, "tile must be an integer >= 0"),
    ({"tile_depth": 0}, "tile_depth must be an integer >= 1"),
    ({"tile_depth": None}, "tile_depth must be an integer >= 1"),
])
def test_bad_tile_parameters_are_refused(options, message):
    with pytest.raises(KPMError, match=message):
        KPMForces(Holstein("square", 4), filling=0.5, **options)
