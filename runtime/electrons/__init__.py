"""Electronic models solved by exact diagonalization: Holstein (eq. 60), Jahn–Teller (eq. 85)
and s-d (eq. 90), on the preset lattices with periodic boundaries."""

from runtime.electrons.holstein import Holstein
from runtime.electrons.jahn_teller import JahnTeller
from runtime.electrons.model import ElectronicModel, ElectronicSolution
from runtime.electrons.sd import SD

__all__ = ["SD", "ElectronicModel", "ElectronicSolution", "Holstein", "JahnTeller"]
