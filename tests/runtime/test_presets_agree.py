"""The numeric presets of `runtime` are the exact presets of `grouptheory`, in float64."""

import numpy as np
import pytest

import grouptheory
from runtime import lattices


@pytest.mark.parametrize("name", lattices.PRESETS)
def test_runtime_presets_match_grouptheory(name):
    exact = grouptheory.Lattice.preset(name)
    numeric = lattices.Lattice.preset(name)
    assert np.allclose(np.array(exact.vectors.evalf(), dtype=float), numeric.vectors, atol=1e-15)
    basis = np.array([[float(x) for x in f] for f in exact.basis])
    assert np.allclose(basis, numeric.basis, atol=1e-15)


def test_same_preset_names():
    assert set(lattices.PRESETS) == set(grouptheory.Lattice.PRESETS)


@pytest.mark.parametrize("name", lattices.PRESETS)
def test_same_attribute_names(name):
    exact, numeric = grouptheory.Lattice.preset(name), lattices.Lattice.preset(name)
    assert (numeric.dimension, numeric.sublattices) == (exact.dimension, exact.sublattices)


def test_same_error_for_an_unknown_preset():
    for preset in (grouptheory.Lattice.preset, lattices.Lattice.preset):
        with pytest.raises(grouptheory.LatticeError, match="unknown lattice 'hexagon'; known"):
            preset("hexagon")
