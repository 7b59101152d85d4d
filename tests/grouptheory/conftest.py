"""Shared, cached groups and exact-arithmetic helpers for the group-theory tests."""

from functools import cache

import sympy as sp

from grouptheory import Lattice, exact, point_group
from grouptheory.catalog import GENERATORS_2D, GENERATORS_3D

GROUPS_3D = list(GENERATORS_3D)
GROUPS_2D = list(GENERATORS_2D)
PRESETS = list(Lattice.PRESETS)


@cache
def group3(name):
    return point_group(name)


@cache
def group2(name):
    return point_group(name, 2)


@cache
def preset_group(name):
    return Lattice.preset(name).site_group()


def as_domain(matrices):
    """Exact DomainMatrix copies of sympy matrices over one common number field."""
    matrices = [sp.Matrix(m) for m in matrices]
    field = exact.number_field(x for m in matrices for x in m)
    return [exact.domain_matrix(m, field) for m in matrices], field
