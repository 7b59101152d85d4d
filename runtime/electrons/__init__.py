"""Electronic models solved by exact diagonalization: Holstein (eq. 60), Jahn–Teller (eq. 85;
its quadrupole form on hexagonal lattices), s-d (eq. 90) and the SSH (Peierls) model of
displacement vectors, on any lattice with periodic boundaries.

The names below are imported on first use (PEP 562), so `import runtime.electrons.ensembles`
(or any one submodule) does not load every model."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["SD", "SSH", "ElectronicModel", "ElectronicSolution", "Holstein", "JahnTeller",
           "QuadrupoleJahnTeller"]

if TYPE_CHECKING:
    from runtime.electrons.holstein import Holstein
    from runtime.electrons.jahn_teller import JahnTeller
    from runtime.electrons.model import ElectronicModel, ElectronicSolution
    from runtime.electrons.quadrupole_jahn_teller import QuadrupoleJahnTeller
    from runtime.electrons.sd import SD
    from runtime.electrons.ssh import SSH


def __getattr__(name: str):
    if name == "Holstein":
        from runtime.electrons.holstein import Holstein as value
    elif name == "JahnTeller":
        from runtime.electrons.jahn_teller import JahnTeller as value
    elif name == "QuadrupoleJahnTeller":
        from runtime.electrons.quadrupole_jahn_teller import QuadrupoleJahnTeller as value
    elif name == "SD":
        from runtime.electrons.sd import SD as value
    elif name == "SSH":
        from runtime.electrons.ssh import SSH as value
    elif name == "ElectronicModel":
        from runtime.electrons.model import ElectronicModel as value
    elif name == "ElectronicSolution":
        from runtime.electrons.model import ElectronicSolution as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
