"""Electronic models solved by exact diagonalization: Holstein (eq. 60), Jahn–Teller (eq. 85)
and s-d (eq. 90), on the preset lattices with periodic boundaries."""

from .base import ElectronicModel, ElectronicSolution
from .holstein import Holstein
from .jahn_teller import JahnTeller
from .sd import SD

__all__ = ["SD", "ElectronicModel", "ElectronicSolution", "Holstein", "JahnTeller"]
