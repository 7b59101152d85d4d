"""Shared machinery of the electronic models: a tight-binding Hamiltonian coupled on site to a
classical field, its exact-diagonalization solution, and the harmonic classical energy."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from runtime.checks import real_number
from runtime.electrons.diagonalization import (
    Spectrum,
    check_memory,
    diagonalize,
    physical_memory,
)
from runtime.electrons.elastic import Elastic
from runtime.electrons.ensembles import ensemble
from runtime.electrons.field import read_field
from runtime.lattices import Lattice

_LINEAR_BYTES = 2**10  # about what the bonds and an O(N) solver need per site, at least
_CHUNK_BYTES = 2**28  # configurations are diagonalized in chunks of about this much memory


@dataclass(frozen=True)
class ElectronicSolution:
    """Exact-diagonalization result for a (batch of) configuration(s); torch tensors or numpy
    arrays like the field, without the batch dimension if the field had none.

    energy       ([batch]): the band energy E = sum_n occ_n eps_n at fixed filling (T = 0), or
                 the grand potential Omega at (mu, T); total over the cluster, in units of t.
    forces       like the field: the electronic force -dE/df_{i,c} (Hellmann–Feynman).
    density      ([batch], *cells, sublattice, d, d): on-site blocks
                 rho_i[a, b] = <c^dag_{i b} c_{i a}> over the d states of a site.
    eigenvalues  ([batch], M) single-particle levels, ascending; occupations ([batch], M).
    """

    energy: Any
    forces: Any
    density: Any
    eigenvalues: Any
    occupations: Any

    @property
    def n_electrons(self):
        """<N> = sum of the occupations, per configuration."""
        return self.occupations.sum(-1)


class ElectronicModel(ABC):
    """A tight-binding model whose on-site terms are linear in a classical field f_{i,c}:

        H(f) = H_hop + sum_i eps_s(i) 1_d - coupling * sum_i sum_c f_{i,c} Gamma_c
        V(f) = K0/2 sum_i |f_i|^2 + K1 sum_<ij> f_i . f_j           (eq. 61 for any field)

    on any lattice (a preset name, a custom lattice table or a `runtime.lattices.Lattice`):
    H_hop runs over the nearest-neighbour bonds found from its vectors and basis, eps_s is
    the on-site energy of sublattice s (`onsite`, one number per sublattice, default 0:
    e.g. the corner and edge sites of the Lieb lattice), Gamma_c are d x d on site i. The
    electronic force is -dE/df_{i,c} = coupling * Re Tr(Gamma_c rho_i).

    The constructor is `Model(lattice, size, **parameters)` with the keywords of the class's
    `parameters` (their defaults; the config schema of `runtime.data.config` is read from
    it) and `onsite`. Subclasses set `parameters`, `components`, `orbitals` (d, states per
    site), `vertices` (the Gamma_c), `coupling_name` (the key of `parameters` that is the
    coupling), `force_names` (one label per force component, for tables and plots), `field`
    (the descriptor field its field is: how the site group acts on it) and the hopping
    blocks of a bond. A model whose field modulates the hoppings instead (`SSH`) overrides
    `_hamiltonians` and `_electronic_forces`, reading the bond blocks of the density matrix
    it asks for in `_density_bonds`, and sets `onsite_coupling` False.
    """

    parameters: Mapping[str, float]
    components: int
    orbitals: int
    vertices: np.ndarray
    coupling_name: str
    force_names: tuple[str, ...]
    field: str
    order_name: str = "order"
    """The name of the order parameter (`order_parameters`)."""
    kpm_probing_distance: int = 12
    """The KPM solver's default probing distance d for this model (`runtime.electrons.kpm`):
    sites of one colour more than d hops apart, 100 colours on large square clusters."""
    learn_window: tuple[float, float] = (0.10, 0.80)
    """The default trust window (eps_lo, eps_hi) of `latticeff learn`, relative to the seed
    set's RMS force (`runtime.data.learning`). The frame deviation is the largest of the site
    deviations, about three times their RMS on a 30x30 frame, so eps_lo = 0.1 asks for a
    member spread of a few per cent of the typical force per site; eps_hi = 0.8 refuses
    frames whose worst site the members disagree on by most of a typical force (DP-GEN's
    window is 0.05-0.15 eV/A against forces of ~1 eV/A, for larger seed sets). No model
    overrides it yet."""
    order_centred: bool = True
    """True if a uniform field is no order (its mean is subtracted before the structure
    factor, e.g. the mean distortion fixed by the filling); False if it is ferro order."""
    recorded_if_set: tuple[str, ...] = ()
    """Parameters a dataset records only when they differ from their default: added after
    datasets were made without them, which still append and resume."""
    onsite_coupling: bool = True
    """True if the field enters H only through the on-site vertices (what the KPM solver's
    gradient needs); False for a field that modulates the hoppings (`SSH`)."""
    _density_bonds: tuple[torch.Tensor, torch.Tensor] | None = None
    """(source, target) of the bonds whose density-matrix blocks the forces need (`SSH`)."""

    @classmethod
    def order_parameters(cls, structure) -> dict[str, float]:
        """The order parameters of one configuration from its structure factor (a
        `runtime.dynamics.observables.StructureFactor` made with `centre=order_centred`):
        `order_name` is the amplitude of the ordered field, the square root of its Bragg
        weight at the ordering wavevector +-Q over all sublattices (1 for perfect order of
        unit fields), and `<order_name>_structure_factor` the peak S(Q) / N."""
        return {cls.order_name: structure.amplitude(),
                f"{cls.order_name}_structure_factor": structure.peak / structure.sites}

    def __init__(self, lattice: str | dict | Lattice, size, *, onsite=None, **parameters):
        unknown = [key for key in parameters if key not in self.parameters]
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter"
                            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; its "
                            f"parameters: {', '.join([*self.parameters, 'onsite'])}")
        values = {key: real_number(key, parameters.get(key, default))
                  for key, default in self.parameters.items()}
        self.parameter_values = MappingProxyType(values)  # every parameter, by name
        lattice = Lattice.of(lattice)
        self.lattice = lattice
        self.size = lattice.check_size(size)
        have = physical_memory()
        if have is not None and _LINEAR_BYTES * lattice.n_sites(self.size) > have:
            self.n_states = lattice.n_sites(self.size) * self.orbitals
            self.check_dense()  # not even the O(N) solvers fit: the ED message names the size
        self.t, self.K0, self.K1 = values["t"], values["K0"], values["K1"]
        self.coupling = values[self.coupling_name]
        self.onsite = _onsite_energies(onsite, lattice)
        self.bonds = lattice.bonds(self.size)
        self.elastic = Elastic(lattice, self.size, self.K0, self.K1, bonds=self.bonds)
        self.n_sites = lattice.n_sites(self.size)
        self.n_states = self.n_sites * self.orbitals
        self.field_shape = (*self.size, lattice.sublattices, self.components)
        self.dtype = torch.complex128 if np.iscomplexobj(self.vertices) else torch.float64

        self._hopping_blocks()  # a lattice the hoppings do not support fails here, not later
        self._vertices = torch.as_tensor(self.vertices, dtype=self.dtype)
        self._dense: tuple[torch.Tensor, torch.Tensor] | None = None
        itemsize = 16 if self.dtype == torch.complex128 else 8
        self._chunk = max(1, _CHUNK_BYTES // (3 * self.n_states**2 * itemsize))

    def check_dense(self) -> None:
        """ValueError naming the estimate if exact diagonalization of this cluster cannot fit
        in memory (the dense Hamiltonian is built only when ED first needs it, so a model for
        the linear-scaling solver `runtime.electrons.kpm` may be of any size)."""
        check_memory(self.n_states, np.iscomplexobj(self.vertices),
                     f"a {'x'.join(map(str, self.size))} {self.lattice.name} cluster")

    @property
    def _hopping(self) -> torch.Tensor:
        return self._dense_parts()[0]

    @property
    def _onsite_index(self) -> torch.Tensor:
        return self._dense_parts()[1]

    def _dense_parts(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._dense is None:
            self.check_dense()
            d, m = self.orbitals, self.n_states
            s, a, b = np.ix_(np.arange(self.n_sites) * d, np.arange(d), np.arange(d))
            self._dense = (self._assemble_hopping(),
                           torch.as_tensor(((s + a) * m + s + b).reshape(-1)))
        return self._dense

    def _static_entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of the field-independent part H_hop + sum_i eps_s(i) 1_d,
        both triangles of every bond and the on-site diagonal (repeated entries add up)."""
        blocks = self._hopping_blocks()
        d = self.orbitals
        rows = np.broadcast_to(self.bonds.source[:, None, None] * d + np.arange(d)[None, :, None],
                               blocks.shape).reshape(-1)
        cols = np.broadcast_to(self.bonds.target[:, None, None] * d + np.arange(d)[None, None, :],
                               blocks.shape).reshape(-1)
        diagonal = np.arange(self.n_states)
        energies = np.repeat(np.tile(self.onsite, self.n_sites // self.lattice.sublattices), d)
        keep = energies != 0
        return (np.concatenate([rows, cols, diagonal[keep]]),
                np.concatenate([cols, rows, diagonal[keep]]),
                np.concatenate([blocks.reshape(-1), blocks.conj().reshape(-1), energies[keep]]))

    def sparse_hopping(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The field-independent part of H (the hoppings and the on-site energies `onsite`)
        as a torch sparse CSR matrix (n_states x n_states, basis (site, orbital)), O(bonds)
        memory; real (`dtype`, default float64) when every hopping block is real."""
        rows, cols, values = self._static_entries()
        complex_ = np.iscomplexobj(values) and np.abs(values.imag).max(initial=0.0) > 0
        if not complex_:
            values = values.real
        dtype = dtype or torch.float64
        if complex_:
            dtype = torch.complex64 if dtype in (torch.float32, torch.complex64) \
                else torch.complex128
        index = torch.as_tensor(np.stack([rows, cols]))
        matrix = torch.sparse_coo_tensor(index, torch.as_tensor(values).to(dtype),
                                         (self.n_states, self.n_states),
                                         check_invariants=False).coalesce()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            return matrix.to_sparse_csr()

    def __repr__(self) -> str:
        onsite = f", onsite={self.onsite.tolist()}" if self.onsite.any() else ""
        return (
            f"{type(self).__name__}(lattice={self.lattice.name!r}, size={self.size}, t={self.t}, "
            f"{self.coupling_name}={self.coupling}, K0={self.K0}, K1={self.K1}{onsite})"
        )

    @abstractmethod
    def _hopping_blocks(self) -> np.ndarray:
        """`(n_bonds, d, d)`: <i a|H|j b> for each bond i = source -> j = target."""

    def _assemble_hopping(self) -> torch.Tensor:
        rows, cols, values = self._static_entries()
        hopping = np.zeros((self.n_states, self.n_states), dtype=values.dtype)
        np.add.at(hopping, (rows, cols), values)
        return torch.as_tensor(hopping, dtype=self.dtype)

    def _read(self, field):
        return read_field(
            field, self.field_shape, f"{type(self).__name__} on {self.lattice.name} {self.size}"
        )

    def _hamiltonians(self, field: torch.Tensor) -> torch.Tensor:
        """Dense H(f) for float64 fields `(batch, n_sites, component)`."""
        batch = field.shape[0]
        onsite = -self.coupling * torch.einsum(
            "nsc,cab->nsab", field.to(self.dtype), self._vertices.to(field.device)
        )
        hamiltonians = self._hopping.to(field.device).repeat(batch, 1, 1)
        hamiltonians.view(batch, -1).index_add_(
            1, self._onsite_index.to(field.device), onsite.reshape(batch, -1)
        )
        return hamiltonians

    def hamiltonian(self, field):
        """Single-particle Hamiltonians `([batch,] M, M)`, basis ordered (site, orbital)."""
        values, layout = self._read(field)
        return layout.per_config(self._hamiltonians(values))

    @torch.no_grad()
    def solve(
        self,
        field,
        filling: float | None = None,
        *,
        mu: float | None = None,
        temperature: float | None = None,
    ) -> ElectronicSolution:
        """Exact diagonalization of H(field).

        `solve(field, filling=0.5)`: T = 0, the N = floor(filling * M + 1/2) lowest of the M
        single-particle levels occupied (see `ensembles.FixedFilling` for degenerate levels);
        `.energy` is the band energy E.
        `solve(field, mu=..., temperature=...)`: grand canonical, Fermi–Dirac occupations;
        `.energy` is the grand potential Omega (see `ensembles.GrandCanonical`).
        In both cases `.forces` is exactly -d(.energy)/d(field). Results are detached float64.
        """
        occupation = ensemble(self.n_states, filling, mu, temperature)
        values, layout = self._read(field)
        spectrum = Spectrum.concatenate(
            [
                diagonalize(self._hamiltonians(part), occupation, self.orbitals,
                            bonds=self._density_bonds)
                for part in values.split(self._chunk)
            ]
        )
        forces = self._electronic_forces(spectrum)
        return ElectronicSolution(
            energy=layout.per_config(spectrum.energy),
            forces=layout.per_site(forces),
            density=layout.per_site(spectrum.density),
            eigenvalues=layout.per_config(spectrum.eigenvalues),
            occupations=layout.per_config(spectrum.occupations),
        )

    def _electronic_forces(self, spectrum: Spectrum) -> torch.Tensor:
        """-dE/df `(batch, n_sites, component)` from the spectrum: coupling Re Tr(Gamma_c rho_i)."""
        vertices = self._vertices.to(spectrum.density.device)
        return self.coupling * torch.einsum("cab,nsba->nsc", vertices, spectrum.density).real

    def elastic_energy(self, field):
        """Classical energy V (eq. 61, `Elastic`) per configuration."""
        values, layout = self._read(field)
        return layout.per_config(self.elastic.energy_and_forces(values)[0])

    def elastic_forces(self, field):
        """-dV/df_i = -K0 f_i - K1 sum_{j nn i} f_j, shaped like the field."""
        values, layout = self._read(field)
        return layout.per_site(self.elastic.energy_and_forces(values)[1])

    def random_field(
        self, batch: int | None = None, *, seed: int, scale: float = 1.0
    ) -> torch.Tensor:
        """Independent Gaussian components of standard deviation `scale`, float64, shape
        `([batch,] *field_shape)`."""
        generator = torch.Generator().manual_seed(seed)
        shape = self.field_shape if batch is None else (batch, *self.field_shape)
        return scale * torch.randn(shape, generator=generator, dtype=torch.float64)


def _onsite_energies(onsite, lattice: Lattice) -> np.ndarray:
    """`onsite` (None, or one finite number per sublattice) as a float64 array."""
    if onsite is None:
        return np.zeros(lattice.sublattices)
    if isinstance(onsite, (str, bytes)) or not hasattr(onsite, "__len__") or \
            len(onsite) != lattice.sublattices:
        raise ValueError(f"onsite must list one energy per sublattice ({lattice.sublattices} "
                         f"on the {lattice.name} lattice), got {onsite!r}")
    return np.array([real_number(f"onsite[{s}]", e) for s, e in enumerate(onsite)])


class PhononModel(ElectronicModel):
    """A model whose field is a lattice distortion coupled with strength g (Holstein eq. 60,
    Jahn–Teller eq. 85): the parameters t, g, K0, K1 and their defaults."""

    parameters = MappingProxyType({"t": 1.0, "g": 1.5, "K0": 1.0, "K1": 0.0})

    @property
    def g(self) -> float:
        return self.coupling
