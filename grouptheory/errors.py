"""Errors a user of `grouptheory` can cause, each naming what to fix."""


class GroupTheoryError(ValueError):
    """Base class: bad input to the symbolic group-theory stage."""


class LatticeError(GroupTheoryError):
    """A lattice that is not a lattice: degenerate vectors, overlapping sites, unknown preset."""


class RepresentationError(GroupTheoryError):
    """An irrep name not in the group, or matrices that do not form a representation."""
