"""Exact group theory for lattices and classical fields (sympy only, never torch).

    >>> from grouptheory import Lattice
    >>> group = Lattice.square().site_group()
    >>> group.name, [c.name for c in group.classes]
    ('D4', ['E', '2C4', 'C2', "2C2'", "2C2''"])
    >>> group.product("E", "E")
    {'A1': 1, 'A2': 1, 'B1': 1, 'B2': 1}
"""

from .characters import CharacterTable
from .clebsch_gordan import ClebschGordanBlock
from .decomposition import Decomposition, decompose
from .descriptors.spec import DescriptorSpec, build_descriptor
from .errors import GroupTheoryError, LatticeError, RepresentationError
from .fields import Field
from .irreps import Irrep
from .lattice import Lattice
from .neighborhood import Neighborhood
from .pointgroup import ConjugacyClass, PointGroup, point_group

__all__ = [
    "CharacterTable",
    "ClebschGordanBlock",
    "ConjugacyClass",
    "Decomposition",
    "DescriptorSpec",
    "Field",
    "GroupTheoryError",
    "Irrep",
    "Lattice",
    "LatticeError",
    "Neighborhood",
    "PointGroup",
    "RepresentationError",
    "build_descriptor",
    "decompose",
    "point_group",
]
