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


@cache
def distinct_groups() -> dict:
    """{label: group} over the 32 point groups ("group-Oh") and the presets' site groups
    ("lattice-square"), each distinct group once: a site group with the same dimension and
    the same matrices as one listed before it is left out (cubic, bcc, fcc: Oh)."""
    candidates = [(f"group-{n}", group3(n)) for n in GROUPS_3D]
    candidates += [(f"lattice-{n}", preset_group(n)) for n in PRESETS]
    found, seen = {}, set()
    for label, group in candidates:
        identity = (group.dimension, frozenset(group.elements))
        if identity not in seen:
            seen.add(identity)
            found[label] = group
    return found


def as_domain(matrices):
    """Exact DomainMatrix copies of sympy matrices over one common number field."""
    matrices = [sp.Matrix(m) for m in matrices]
    field = exact.number_field(x for m in matrices for x in m)
    return [exact.domain_matrix(m, field) for m in matrices], field
