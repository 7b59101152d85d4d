"""Errors a user of `grouptheory` can cause, each naming what to fix (sympy-free: the
numeric lattices of `runtime` raise `LatticeError` too)."""


class GroupTheoryError(ValueError):
    """Base class: bad input to the symbolic group-theory stage."""


class LatticeError(GroupTheoryError):
    """A lattice that is not a lattice (degenerate vectors, overlapping sites, unknown preset)
    or a periodic cluster too small for it."""


class RepresentationError(GroupTheoryError):
    """An irrep name not in the group, or matrices that do not form a representation."""
