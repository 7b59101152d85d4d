"""The site-group actions a spec carries (grouptheory.descriptors.actions), as the runtime
reads them: a faithful representation of the group on the periodic lattice that maps bonds
onto bonds, with field matrices that compose like the permutations."""

import numpy as np
import pytest
import torch

import generated
from runtime.lattices import Lattice
from runtime.ml.symmetry import lattice_actions

CELLS = {2: (7, 7), 3: (4, 4, 4)}


@pytest.mark.parametrize("name", generated.available())
def test_actions_form_the_group_and_preserve_bonds(name):
    descriptor = generated.load(name)
    cells = CELLS[descriptor.dimension]
    actions = lattice_actions(descriptor, cells)
    perms = [perm for perm, _ in actions]
    n = len(perms[0])
    assert np.array_equal(perms[0], np.arange(n))  # element 0 is the identity
    assert all(np.array_equal(np.sort(p), np.arange(n)) for p in perms)  # bijections
    index = {p.tobytes(): g for g, p in enumerate(perms)}
    assert len(index) == len(perms) == len(descriptor.spec["symmetry"])  # faithful
    for a, (pa, ma) in enumerate(actions):
        for b, (pb, mb) in enumerate(actions):
            product = index.get(pa[pb].tobytes())  # apply b, then a
            assert product is not None, f"{name}: g{a}·g{b} is not in the group"
            mc = actions[product][1]
            if ma is not None or mb is not None or mc is not None:
                eye = torch.eye(descriptor.components, dtype=torch.float64)
                left = (eye if ma is None else ma) @ (eye if mb is None else mb)
                torch.testing.assert_close(left, eye if mc is None else mc, atol=1e-12, rtol=0)
    bonds = Lattice.preset(descriptor.lattice).bonds(cells)
    pairs = {frozenset(p) for p in zip(bonds.source.tolist(), bonds.target.tolist())}
    for perm in perms:
        assert {frozenset((perm[i], perm[j])) for i, j in pairs} == pairs
