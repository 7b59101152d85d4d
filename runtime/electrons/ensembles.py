"""Occupation of single-particle levels: fixed filling at T = 0, or grand canonical at (mu, T).

An ensemble turns sorted eigenvalues `(batch, M)` into occupations and the electronic energy
whose exact gradient with respect to any Hamiltonian parameter x is the Hellmann–Feynman
expression  dE/dx = sum_n occ_n d(eps_n)/dx = Tr(rho dH/dx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from runtime.checks import real_number

DEGENERACY_TOL = 1e-9
"""Levels closer than DEGENERACY_TOL * max(1, max|eps|) count as degenerate."""


@dataclass(frozen=True)
class FixedFilling:
    """T = 0 with a fixed number of electrons: the `electrons` lowest levels are occupied.

    Energy: E = sum_n occ_n eps_n (the band energy, <H> of eqs. 60, 85, 90).

    Degenerate Fermi level: if the levels eps_N and eps_{N+1} coincide (within DEGENERACY_TOL),
    the electrons left after filling all lower levels are spread equally over the whole
    degenerate shell (fractional occupations k/g). The density matrix is then the same for any
    eigenbasis LAPACK returns for that shell, hence deterministic and as symmetric as H. E is
    unchanged by this rule and is differentiable wherever the shell is not split.
    """

    electrons: int

    def __post_init__(self) -> None:
        if (
            not isinstance(self.electrons, int)
            or isinstance(self.electrons, bool)
            or self.electrons < 1
        ):
            raise ValueError(f"electrons must be a positive integer, got {self.electrons!r}")

    @classmethod
    def from_filling(cls, filling: float, n_states: int) -> FixedFilling:
        """N = floor(filling * n_states + 1/2) electrons on `n_states` single-particle states."""
        filling = real_number("filling", filling)
        if not 0.0 < filling < 1.0:
            raise ValueError(
                f"filling must lie strictly between 0 and 1 (fraction of the {n_states} "
                f"single-particle states occupied), got {filling}"
            )
        electrons = math.floor(filling * n_states + 0.5)
        if not 0 < electrons < n_states:
            raise ValueError(
                f"filling {filling} puts {electrons} electrons on {n_states} states (an empty or "
                f"full band); use a filling between {1 / n_states:.3g} and "
                f"{1 - 1 / n_states:.3g}"
            )
        return cls(electrons)

    def occupy(self, eigenvalues: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Occupations `(batch, M)` and energies `(batch,)` for sorted `eigenvalues`."""
        n = self.electrons
        if n >= eigenvalues.shape[-1]:
            raise ValueError(
                f"{n} electrons do not fit below the top of {eigenvalues.shape[-1]} levels"
            )
        fermi = eigenvalues[:, n - 1 : n]
        tol = _degeneracy_tolerance(eigenvalues)
        below = eigenvalues < fermi - tol
        shell = (eigenvalues - fermi).abs() <= tol
        dtype = eigenvalues.dtype
        remaining = (n - below.sum(-1, keepdim=True)).to(dtype)
        occupations = below.to(dtype) + shell * (remaining / shell.sum(-1, keepdim=True).to(dtype))
        return occupations, (occupations * eigenvalues).sum(-1)


@dataclass(frozen=True)
class GrandCanonical:
    """Fixed chemical potential `mu` and temperature `temperature` (>= 0), Fermi–Dirac occupation.

    Energy: the grand potential Omega = -T sum_n ln(1 + exp(-(eps_n - mu)/T)), whose gradient at
    fixed (mu, T) is exactly the Hellmann–Feynman force. Omega = <H> - mu <N> - T S, so the
    free energy is Omega + mu <N> (<N> = sum of the occupations).
    At T = 0: occupation 1 below mu, 1/2 at mu (within the degeneracy tolerance), 0 above, and
    Omega = sum_n occ_n (eps_n - mu), the T -> 0 limit of both.
    """

    mu: float
    temperature: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", real_number("mu", self.mu))
        temperature = real_number("temperature", self.temperature)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (in units of t), got {temperature}")
        object.__setattr__(self, "temperature", temperature)

    def occupy(self, eigenvalues: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Occupations `(batch, M)` and grand potentials `(batch,)`."""
        shifted = eigenvalues - self.mu
        if self.temperature == 0.0:
            tol = _degeneracy_tolerance(eigenvalues)
            occupations = ((shifted < -tol) + 0.5 * (shifted.abs() <= tol)).to(eigenvalues.dtype)
            return occupations, (occupations * shifted).sum(-1)
        x = shifted / self.temperature
        occupations = torch.sigmoid(-x)
        omega = -self.temperature * torch.logaddexp(torch.zeros_like(x), -x).sum(-1)
        return occupations, omega


Ensemble = FixedFilling | GrandCanonical


def _degeneracy_tolerance(eigenvalues: torch.Tensor) -> torch.Tensor:
    """Per configuration: DEGENERACY_TOL * max(1, max |eps|), shape `(batch, 1)`."""
    return DEGENERACY_TOL * eigenvalues.abs().amax(-1, keepdim=True).clamp(min=1.0)


def ensemble(
    n_states: int,
    filling: float | None = None,
    mu: float | None = None,
    temperature: float | None = None,
) -> Ensemble:
    """The ensemble named by the keywords of `solve`: `filling` (default 1/2) at T = 0, or
    `mu` and `temperature` together (grand canonical)."""
    if mu is None and temperature is None:
        return FixedFilling.from_filling(0.5 if filling is None else filling, n_states)
    if filling is not None:
        raise ValueError(
            "give either filling (T = 0) or mu and temperature (grand canonical), not both"
        )
    if mu is None or temperature is None:
        raise ValueError(
            "the grand-canonical ensemble needs both mu and temperature (temperature=0 is "
            "allowed); fixed filling is supported at T = 0 only"
        )
    return GrandCanonical(mu, temperature)
