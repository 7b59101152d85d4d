"""Linear-scaling electronic forces: the kernel polynomial method (KPM) with gradient-based
probing (Barros & Kato, PRB 88, 235101 (2013); Wang, Chern, Batista & Barros, J. Chem. Phys.
149, 094107 (2018), arXiv:1711.10570).

The grand potential Omega = Tr g(H), g(e) = -T ln(1 + exp(-(e - mu)/T)) (at T = 0:
(e - mu) theta(mu - e)), is expanded in Chebyshev polynomials of the rescaled Hamiltonian
A = (H - b)/a, whose spectrum lies in (-1, 1) (Gershgorin bounds with a margin):

    Omega ~= sum_{n<M} k_n c_n(mu) mu_n,     mu_n = sum_p <p|T_n(A)|p>

with k_n the kernel (Jackson, or none), c_n the Chebyshev coefficients of g (exact formulas at
T = 0, Chebyshev–Gauss quadrature at T > 0) and |p> probe vectors: sums of unit vectors over
the sites of one colour of a distance-d colouring (`probing`), or random-phase vectors. The
forces are the exact gradient of this estimate, -dOmega/dPhi = -Re Tr(dA/dPhi G), computed by
reverse-mode differentiation of the Chebyshev recursion (the adjoint recursion
s_n = k_n c_n p + 2 A s_{n+1} - s_{n+2}, with the T_n(A) p recomputed backwards), so
G_ii = sum_n w_n sum_p T_n(A)p (s_{n+1})^dag restricted to the site blocks dH/dPhi touches: the
on-site number (Holstein), the orbital 2x2 block (Jahn–Teller), the spin 2x2 block (s-d).
This is the gradient-based probing of 1711.10570: the estimate of rho_ii it yields is exact
when same-colour sites are more than M - 2 hops apart and otherwise errs by products of two
decaying matrix elements. The cost is ~3M sparse products with the probe block: O(N) at fixed
M and colours; memory O(N x probes per block).

Accuracy at T = 0 (docs/performance.md): the force the estimate differentiates is that of
the truncated step, whose energy resolution ~ a/M (pi a/M with the Jackson kernel) smears the
levels near the Fermi energy; in gapped (ordered) states this costs nothing, in metallic ones
it is the leading error together with the aliasing of same-colour sites, which decays with d.
The defaults (`default_moments`, `default_probing_distance`: M = 1000, no kernel, d = 12; d =
14 for the s-d model; M = 6 x states on clusters of at most 400 sites) were chosen by
measurement against ED for the spectral half-widths of these models (a ~ 6 to 14 t for fields
of order one).

Canonical filling (T = 0): the moments mu_n do not depend on mu, so mu is found by bisection of
N(mu) = -dOmega/dmu = sum_n k_n nu_n(mu) mu_n = N_e; the energy is the band energy
E = Omega(mu) + mu N_e, whose gradient at fixed N_e is -dOmega/dPhi at that mu.

    forces = KPMForces(Holstein("square", 100), filling=0.5)   # defaults: M=1000, d=12, no kernel
    forces(field)                     # -d(E + V)/dfield, like ExactForces
    forces.energy_and_forces(field)   # the force protocol
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch

from runtime.checks import integer, real_number
from runtime.electrons.ensembles import FixedFilling, GrandCanonical, ensemble
from runtime.electrons.forces import ElectronicForces
from runtime.electrons.model import ElectronicModel
from runtime.electrons.probing import colour_vectors, distance_colouring, random_vectors
from runtime.electrons.tiling import Tiling
from runtime.errors import LatticeffError

KERNELS = ("jackson", "none")
PROBING = ("colour", "random")
DTYPES = {"float64": torch.float64, "float32": torch.float32}
MARGIN = 0.02
"""Relative margin added to the spectral half-width, so that the rescaled spectrum stays in
[-1/(1 + MARGIN), 1/(1 + MARGIN)]."""
MOMENTS = 1000
"""Default M: a step width a/M ~ 0.005-0.014 t for the half-widths a ~ 5-14 t of these models."""
SMALL_CLUSTER = 400
"""Sites up to which the default M resolves the mean level spacing (`default_moments`)."""
TILE_BYTES = 24 * 2**20
"""Bytes of live vectors (a block's or one tile domain's) up to which the sweeps run over the
whole cluster at once; beyond, over tiles whose domains fit (docs/performance.md)."""
TILE_DEPTH = 6
"""Chebyshev steps per visit of a tile: the halo's width in hops."""
MAX_HALO = 0.4
"""Largest fraction of extra states the halos may add for tiles to be chosen by default (2D
lattices past the cache: +18-25 %; 3D ones would need +300 % and more, slower than none)."""
BLOCK_COLUMNS = 32
"""Vector columns (probes x configurations) per block by default: wide enough to amortize the
CSR product's per-row cost, narrow enough for a lattice of 100 x 100 to stay in the L3 cache,
and a multiple of the 16 float32 lanes of the product's vector loop (25 columns cost 30 % more
per column than 32; docs/performance.md)."""
_PRODUCT_ENTRIES = 2**18  # on small clusters blocks widen (in steps of 16 columns) to this
# many vector entries: below it the per-call cost of the products dominates (30 x 30: 158
# probes in blocks of 32 cost 2x one block)
_BLOCK_BYTES = 2**28  # and its working vectors stay below about this
# (at fixed filling, two vectors per probe column are kept besides: O(N x probes) in all)


class KPMError(LatticeffError):
    """Parameters the kernel polynomial solver cannot use; the message names the fix."""


def default_moments(model: ElectronicModel) -> int:
    """M = 1000; on clusters of at most SMALL_CLUSTER sites M = 6 x states (if larger), so
    that the step width a/M is a twelfth of the mean level spacing 2a/states. At T = 0 a
    finite cluster's force depends on which levels next to the Fermi energy are occupied, and
    on a small cluster one level moves the forces by ~1/sites of their RMS (a HOMO-LUMO gap of
    0.13 mean spacings put 16 x 16 s-d at 1.18 % with M = 1000, 1.00 % with 2500); level
    repulsion makes a gap below a twelfth of the spacing rare (P ~ (pi/4)/144 ~ 0.5 % for real
    Hamiltonians, less for complex ones). On larger clusters the levels within the step
    average out (docs/performance.md) and M = 1000 stays: O(N) cost."""
    if model.n_sites <= SMALL_CLUSTER:
        return max(MOMENTS, 6 * model.n_states)
    return MOMENTS


def default_probing_distance(model: ElectronicModel) -> int:
    """d = 12, or the model's own (`kpm_probing_distance`: 14 for the s-d model)."""
    return model.kpm_probing_distance


@dataclass(frozen=True)
class KPMSettings:
    """The parameters of the KPM solver (also the [solver] table of a dataset config).

    moments            M, Chebyshev moments (>= 2); the energy resolution is ~ a / M (pi a /
                       M with the Jackson kernel); None: `default_moments` of the model
    probing            "colour" (distance-d colouring, deterministic) or "random"
    probing_distance   d: sites of one colour are more than d hops apart (>= 1); None:
                       `default_probing_distance` of the model
    vectors            number of random-phase vectors (probing = "random")
    kernel             "none" (the truncated series: the sharpest Fermi step for a given M)
                       or "jackson" (damps Gibbs oscillations, a positive smoothed step, but
                       about pi times wider: twice the moments for the same force error)
    dtype              "float64" or "float32" (the recursion; sums are float64)
    seed               seed of the random vectors, and of the random signs (phases) of the
                       sites within a colour's probe vector
    """

    moments: int | None = None
    probing: str = "colour"
    probing_distance: int | None = None
    vectors: int = 64
    kernel: str = "none"
    dtype: str = "float64"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("moments", "probing_distance", "vectors", "seed"):
            value = getattr(self, name)
            if value is None and name in ("moments", "probing_distance"):
                continue  # the model's default (KPMForces resolves it)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise KPMError(f"{name} must be an integer, got {value!r}")
        if self.seed < 0:
            raise KPMError(f"seed must be >= 0, got {self.seed}")
        if self.moments is not None and self.moments < 2:
            raise KPMError(f"moments must be >= 2 (the expansion needs T_0 and T_1), got "
                           f"{self.moments}; use e.g. moments = 1000")
        if self.probing not in PROBING:
            raise KPMError(f"probing must be one of {', '.join(map(repr, PROBING))}, got "
                           f"{self.probing!r}")
        if self.probing == "colour" and self.probing_distance is not None and \
                self.probing_distance < 1:
            raise KPMError(
                f"probing_distance must be >= 1: dH/dPhi_i acts on site i and H reaches one "
                f"hop, so neighbours must differ in colour (got {self.probing_distance}); "
                f"leave probing_distance out (the model's default) for 1% forces")
        if self.probing == "random" and self.vectors < 1:
            raise KPMError(f"vectors must be >= 1 random vectors, got {self.vectors}")
        if self.kernel not in KERNELS:
            raise KPMError(f"kernel must be one of {', '.join(map(repr, KERNELS))}, got "
                           f"{self.kernel!r}")
        if self.dtype not in DTYPES:
            raise KPMError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, got "
                           f"{self.dtype!r}")


def jackson(moments: int) -> np.ndarray:
    """The Jackson kernel g_n, n < M (Weisse et al., Rev. Mod. Phys. 78, 275, eq. 71)."""
    n, q = np.arange(moments), math.pi / (moments + 1)
    return ((moments - n + 1) * np.cos(q * n) + np.sin(q * n) / math.tan(q)) / (moments + 1)


def step_coefficients(x_mu: np.ndarray, moments: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Chebyshev coefficients on [-1, 1] of theta(x_mu - x) (nu) and of
    (x - x_mu) theta(x_mu - x) (gamma), for each x_mu of the batch: two (batch, M) arrays, so
    that d(gamma)/d(x_mu) = -nu exactly."""
    phi = np.arccos(np.clip(x_mu, -1.0, 1.0))[:, None]
    m = np.arange(moments + 1)[None, :]

    def integral(k):  # int_phi^pi cos(k theta) d theta, k >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(k == 0, np.pi - phi, -np.sin(k * phi) / np.where(k == 0, 1, k))
        return value

    ints = integral(m)  # (batch, M + 1)
    weight = np.full(moments, 2.0 / np.pi)
    weight[0] = 1.0 / np.pi
    nu = weight * ints[:, :moments]
    previous = np.concatenate([ints[:, 1:2], ints[:, : moments - 1]], axis=1)  # I_{|n-1|}
    x_term = weight * 0.5 * (ints[:, 1 : moments + 1] + previous)
    return nu, x_term - x_mu[:, None] * nu


def fermi_coefficients(x_mu: np.ndarray, beta: np.ndarray, moments: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev–Gauss quadrature coefficients of the occupation sigmoid(-beta (x - x_mu))
    (nu) and of -ln(1 + exp(-beta (x - x_mu)))/beta (gamma) on the same nodes, so that
    d(gamma)/d(x_mu) = -nu exactly. `beta` = a/T in rescaled units; (batch, M) arrays."""
    nodes = max(4 * moments, min(2**20, int(np.ceil(16 * beta.max())) + 1))
    x = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    z = beta[:, None] * (x[None, :] - x_mu[:, None])
    occupation = 0.5 * (1.0 - np.tanh(0.5 * z))
    energy = -np.logaddexp(0.0, -z) / beta[:, None]
    scale = np.full(moments, 1.0 / nodes)
    scale[1:] *= 2.0
    nu = scipy.fft.dct(occupation, type=2, axis=1)[:, :moments] * scale / 2.0
    gamma = scipy.fft.dct(energy, type=2, axis=1)[:, :moments] * scale / 2.0
    return nu, gamma


class KPMForces(ElectronicForces):
    """The KPM force on the classical field of an `ElectronicModel`, a drop-in replacement
    for `ExactForces`: the electronic force at fixed `filling` (T = 0) or at (`mu`,
    `temperature`), plus the elastic force -dV/dfield; `evaluate` returns the same
    `Evaluation` (energy: band energy at fixed filling, grand potential at (mu, T)).

    Parameters (see `KPMSettings`): moments, probing ("colour" | "random"),
    probing_distance, vectors, kernel ("jackson" | "none"), dtype ("float64" | "float32"),
    seed (moments and probing_distance: None for the model's defaults; `settings` holds the
    values used); `bounds=(lo, hi)` fixes the spectral window for every configuration (checked by
    Lanczos); otherwise it is the Gershgorin interval of each configuration widened by MARGIN.
    The forces are the exact gradient of the estimated energy at a fixed window.
    `probe_block` columns are propagated at once (default: BLOCK_COLUMNS / configurations,
    bounded by about 256 MiB).
    `tile` cells per lattice direction form a tile of the temporally blocked sweeps
    (`runtime.electrons.tiling`, halos of `tile_depth` hops; None: tiles when a block's
    vectors outgrow the cache, `TILE_BYTES`; 0: never); the results depend on it only
    by rounding (the order of the sums).
    """

    def __init__(
        self,
        model: ElectronicModel,
        *,
        filling: float | None = None,
        mu: float | None = None,
        temperature: float | None = None,
        moments: int | None = KPMSettings.moments,
        probing: str = KPMSettings.probing,
        probing_distance: int | None = KPMSettings.probing_distance,
        vectors: int = KPMSettings.vectors,
        kernel: str = KPMSettings.kernel,
        dtype: str = KPMSettings.dtype,
        seed: int = KPMSettings.seed,
        bounds: tuple[float, float] | None = None,
        probe_block: int | None = None,
        tile: int | None = None,
        tile_depth: int = TILE_DEPTH,
    ):
        if not isinstance(model, ElectronicModel):
            raise TypeError(f"model must be a runtime.electrons.ElectronicModel, got {model!r}")
        if not model.onsite_coupling:
            raise KPMError(
                f"the KPM solver differentiates on-site couplings only, but the field of "
                f"{type(model).__name__} modulates the hoppings (its force needs the bond "
                f"elements of the density matrix); use the exact solver (solver.name = "
                f"'exact', the default)")
        settings = KPMSettings(moments, probing, probing_distance, vectors, kernel, dtype,
                               seed)
        if tile is not None:
            integer("tile", tile, minimum=0, error=KPMError)
        integer("tile_depth", tile_depth, minimum=1, error=KPMError)
        self.settings = dataclasses.replace(
            settings,
            moments=default_moments(model) if moments is None else moments,
            probing_distance=(default_probing_distance(model) if probing_distance is None
                              else probing_distance))
        probing_distance = self.settings.probing_distance
        self.ensemble = ensemble(model.n_states, filling, mu, temperature)
        self.model = model
        self.filling, self.mu, self.temperature = filling, mu, temperature
        self.bounds = None if bounds is None else self._check_bounds(bounds)
        self.dtype = DTYPES[dtype]
        self.complex = model.dtype.is_complex
        self.vector_dtype = ({torch.float64: torch.complex128, torch.float32: torch.complex64}
                             [self.dtype] if self.complex else self.dtype)
        self._hopping = model.sparse_hopping(self.dtype)
        self._hopping_complex = self._hopping.dtype.is_complex
        d = model.orbitals
        row_sums = torch.zeros(model.n_states, dtype=torch.float64)
        csr = self._hopping.to(torch.complex128 if self._hopping_complex else torch.float64)
        counts = csr.crow_indices().diff()
        row_sums.index_add_(0, torch.repeat_interleave(torch.arange(model.n_states), counts),
                            csr.values().abs())
        self._hopping_radius = row_sums.reshape(model.n_sites, d)
        self._vertices = torch.as_tensor(model.vertices)  # (c, d, d), complex for s-d

        if probing == "colour":
            self.colours = distance_colouring(model.bonds, model.n_sites, probing_distance,
                                              model.size)
            phases = random_vectors(model.n_states, 1, seed=seed, complex_=self.complex)
            probes = colour_vectors(self.colours, d, phases[:, 0])
        else:
            self.colours = None
            probes = random_vectors(model.n_states, vectors, seed=seed, complex_=self.complex)
        self.n_probes = probes.shape[1]
        self._probes = torch.as_tensor(probes).to(self.vector_dtype)  # (n_states, P)
        self._probe_block = probe_block
        self._tile, self._tile_depth, self._tilings = tile, int(tile_depth), {}
        self.tiling: Tiling | None = None  # of the last evaluation
        # random vectors: E[v v^dag] = identity, so Tr X ~ (1/R) sum_r <r|X|r>
        self._trace_scale = 1.0 / vectors if probing == "random" else 1.0

    def __repr__(self) -> str:
        electrons = (f"filling={self.filling}" if self.mu is None
                     else f"mu={self.mu}, temperature={self.temperature}")
        s = self.settings
        probing = (f"probing_distance={s.probing_distance} ({self.n_probes} probes)"
                   if s.probing == "colour" else f"random vectors={s.vectors}")
        return (f"KPMForces({self.model!r}, {electrons}, moments={s.moments}, {probing}, "
                f"kernel={s.kernel!r}, dtype={s.dtype!r})")

    @property
    def parameters(self) -> dict:
        """The solver parameters, as a dataset records them."""
        table = {"name": "kpm", **{k: getattr(self.settings, k) for k in (
            "moments", "probing", "probing_distance", "vectors", "kernel", "dtype", "seed")}}
        if self.settings.probing == "colour":
            table.pop("vectors")
        else:
            table.pop("probing_distance")
        return table

    # -- the force protocol -------------------------------------------------------------

    def electronic(self, field) -> tuple[torch.Tensor, torch.Tensor]:
        """(E or Omega per configuration, -dE/dfield) without the elastic term."""
        values, layout = self.model._read(field)
        energy, forces = self._solve(values)
        return layout.per_config(energy), layout.per_site(forces)

    # -- the solver ---------------------------------------------------------------------

    def _check_bounds(self, bounds) -> tuple[float, float]:
        try:
            lo, hi = (real_number("bounds", b) for b in bounds)
        except (TypeError, ValueError):
            raise KPMError(f"bounds must be two finite numbers (lo, hi), got {bounds!r}") from None
        if not lo < hi:
            raise KPMError(f"bounds must satisfy lo < hi, got {bounds!r}")
        return lo, hi

    def _onsite(self, field: torch.Tensor) -> torch.Tensor:
        """On-site blocks -coupling sum_c f_ic Gamma_c, (batch, n_sites, d, d), float64 or
        complex128."""
        vertices = self._vertices.to(torch.complex128 if self.complex else torch.float64)
        return -self.model.coupling * torch.einsum("nsc,cab->nsab", field.to(vertices.dtype),
                                                   vertices)

    def gershgorin(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rigorous spectral bounds (lo, hi) per configuration of float64 (batch, n_sites, c)
        fields: every eigenvalue lies in a disc |e - H_kk| <= sum_{l != k} |H_kl|."""
        onsite = self._onsite(field)
        diagonal = torch.diagonal(onsite, dim1=-2, dim2=-1).real  # (batch, n_sites, d)
        radius = onsite.abs().sum(-1) - onsite.abs().diagonal(dim1=-2, dim2=-1)
        radius = radius + self._hopping_radius[None]
        lo = (diagonal - radius).flatten(1).amin(1)
        hi = (diagonal + radius).flatten(1).amax(1)
        return lo, hi

    def lanczos_extremes(self, field: torch.Tensor, steps: int = 30
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Lanczos estimates (from inside) of the lowest and highest eigenvalue per
        configuration: the extreme Ritz values of `steps` steps from a random start."""
        batch = field.shape[0]
        onsite = self._onsite(field).permute(1, 2, 3, 0).contiguous().to(self.vector_dtype)
        real = self.dtype
        generator = torch.Generator().manual_seed(12345)
        v = torch.randn(self.model.n_states, batch, 1, generator=generator,
                        dtype=torch.float64).to(self.vector_dtype)
        v = v / _norms(v).to(real)[None, :, None]
        previous = torch.zeros_like(v)
        beta = torch.zeros(batch, dtype=torch.float64)
        alphas, betas = [], []
        one = torch.ones(batch, dtype=torch.float64)
        for _ in range(min(steps, self.model.n_states)):
            w = self._apply(v, onsite, one)
            alpha = _dots(v, w)
            w = w - alpha.to(real)[None, :, None] * v - beta.to(real)[None, :, None] * previous
            beta = _norms(w)
            alphas.append(alpha)
            betas.append(beta)
            if bool((beta < 1e-10).any()):
                break
            previous, v = v, w / beta.to(real)[None, :, None]
        k = len(alphas)
        tridiagonal = torch.diag_embed(torch.stack(alphas, 1))
        if k > 1:
            off = torch.stack(betas[:-1], 1)
            tridiagonal = tridiagonal + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
        ritz = torch.linalg.eigvalsh(tridiagonal)
        return ritz[:, 0], ritz[:, -1]

    def _window(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Centre b and half-width a of the rescaling A = (H - b)/a, per configuration."""
        batch = field.shape[0]
        if self.bounds is None:
            lo, hi = self.gershgorin(field)
        else:
            lo_est, hi_est = self.lanczos_extremes(field)
            lo, hi = self.bounds
            if bool((lo_est < lo).any()) or bool((hi_est > hi).any()):
                raise KPMError(
                    f"bounds {self.bounds} do not contain the spectrum: Lanczos finds "
                    f"eigenvalues in [{lo_est.min().item():.4g}, {hi_est.max().item():.4g}]; "
                    f"widen the bounds or leave them out (Gershgorin bounds)")
            lo = torch.full((batch,), lo, dtype=torch.float64)
            hi = torch.full((batch,), hi, dtype=torch.float64)
        centre = 0.5 * (hi + lo)
        half = 0.5 * (hi - lo) * (1.0 + MARGIN)
        half = torch.clamp(half, min=1e-12)
        if isinstance(self.ensemble, GrandCanonical):
            mu = self.ensemble.mu
            outside = (mu <= lo) | (mu >= hi)
            if bool(outside.any()):
                k = int(outside.nonzero()[0])
                raise KPMError(
                    f"mu = {mu} lies outside the spectrum bounds [{lo[k].item():.4g}, "
                    f"{hi[k].item():.4g}] of configuration {k} (an empty or full band); "
                    f"choose mu inside the band")
        return centre, half

    def _apply(self, x: torch.Tensor, onsite: torch.Tensor, inv_half: torch.Tensor
               ) -> torch.Tensor:
        """A x = (H - b)/a x for x of shape (n_states, batch, cols): sparse hopping product
        plus the on-site blocks, per configuration b, a."""
        n, batch, cols = x.shape
        if self.complex and not self._hopping_complex:
            flat = torch.view_as_real(x).reshape(n, batch * cols * 2)
            hop = torch.view_as_complex((self._hopping @ flat).reshape(n, batch, cols, 2))
        else:
            hop = (self._hopping @ x.reshape(n, batch * cols)).reshape(n, batch, cols)
        scale = inv_half.to(hop.real.dtype)[None, :, None]
        y = hop * scale
        d = self.model.orbitals
        sites = x.view(n // d, d, batch, cols)
        out = y.view(n // d, d, batch, cols)
        # onsite: (n_sites, d, d, batch) already (H_onsite - b) / a
        for a in range(d):
            for b in range(d):
                out[:, a] += onsite[:, a, b, :, None] * sites[:, b]
        return y

    def _solve(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(energy (batch,), forces (batch, n_sites, c)) of float64 fields."""
        model, settings = self.model, self.settings
        batch, m_moments, d = field.shape[0], settings.moments, model.orbitals
        centre, half = self._window(field)
        onsite = self._onsite(field)  # (batch, n_sites, d, d)
        eye = torch.eye(d, dtype=onsite.dtype)
        scaled = (onsite - centre[:, None, None, None].to(onsite.dtype) * eye) \
            / half[:, None, None, None].to(onsite.dtype)
        scaled = scaled.permute(1, 2, 3, 0).contiguous().to(self.vector_dtype)
        inv_half = 1.0 / half
        blocks = self._blocks(batch)
        tiling = self.tiling = self._tiling(batch * blocks[0].shape[1])
        if not tiling.whole:
            scaled = scaled[tiling.order]
            blocks = [probes[tiling.state_order] for probes in blocks]
        ops = [_Operator(domain.hopping, scaled.index_select(0, domain.sites), inv_half,
                         self.complex) for domain in tiling.domains]
        kernel = jackson(m_moments) if settings.kernel == "jackson" else np.ones(m_moments)

        states: list = [None] * len(blocks)
        moments = None
        if isinstance(self.ensemble, FixedFilling):
            # mu needs all moments first: every block keeps its last two Chebyshev vectors
            # for the backward sweep (2 vectors per probe column, instead of a second forward
            # sweep per block: that would cost 4M instead of 3M products)
            moments = torch.zeros(batch, m_moments, dtype=torch.float64)
            for k, probes in enumerate(blocks):
                part, states[k] = self._forward(probes, ops, tiling)
                moments += part
            x_mu = self._find_mu(moments.numpy() * kernel * self._trace_scale,
                                 self.ensemble.electrons)
            _, gamma = step_coefficients(x_mu, m_moments)
        else:
            x_mu = ((self.ensemble.mu - centre) / half).numpy()
            if self.ensemble.temperature == 0.0:
                _, gamma = step_coefficients(x_mu, m_moments)
            else:
                _, gamma = fermi_coefficients(x_mu, half.numpy() / self.ensemble.temperature,
                                               m_moments)
        # Omega = a * sum_n k_n gamma_n mu_n (times the trace scale), in units of t
        coefficients = torch.as_tensor(gamma * kernel[None, :] * self._trace_scale
                                       * half.numpy()[:, None])

        total_moments = torch.zeros(batch, m_moments, dtype=torch.float64)
        gradient = torch.zeros(model.n_sites, d, d, batch,
                               dtype=torch.complex128 if self.complex else torch.float64)
        for k, probes in enumerate(blocks):
            part, state = (None, states[k]) if states[k] is not None else \
                self._forward(probes, ops, tiling)
            if part is not None:
                total_moments += part
            states[k] = None
            gradient += self._backward(probes, state, coefficients, ops, tiling)
        if moments is not None:
            total_moments = moments
        if not tiling.whole:  # back to the site numbering
            gradient = torch.empty_like(gradient).index_copy_(0, tiling.order, gradient)
        energy = (coefficients * total_moments).sum(1)
        if isinstance(self.ensemble, FixedFilling):
            mu = centre + half * torch.as_tensor(x_mu)
            energy = energy + mu * self.ensemble.electrons
        # F_ic = -dOmega/df_ic = (coupling / a) Re sum_ab Gamma_c[a, b] D[a, b], with D the
        # gradient blocks accumulated divided by a (coefficients carry the factor a)
        vertices = self._vertices.to(gradient.dtype)
        forces = model.coupling * torch.einsum("cab,sabn->nsc", vertices, gradient).real
        forces = forces / half[:, None, None]
        return energy, forces

    def _blocks(self, batch: int) -> list[torch.Tensor]:
        n = self._probes.shape[0]
        size = self._probe_block
        if size is None:
            itemsize = torch.empty((), dtype=self.vector_dtype).element_size()
            columns = max(BLOCK_COLUMNS, 16 * math.ceil(_PRODUCT_ENTRIES / (16 * n)))
            size = max(1, min(columns // batch, _BLOCK_BYTES // (7 * n * batch * itemsize)))
        return list(self._probes.split(max(1, int(size)), dim=1))

    def _tiling(self, columns: int) -> Tiling:
        """The tiling of the sweeps for blocks of `columns` vector columns: one tile of the
        whole cluster when a block's live vectors fit in TILE_BYTES, when tiles that fit would
        add more than MAX_HALO in halos (small tiles in 3D), or when tile = 0; else tiles
        whose domains' vectors fit (or of `tile` cells)."""
        model, depth = self.model, self._tile_depth
        row = columns * torch.empty((), dtype=self.vector_dtype).element_size()
        live = 7 + model.orbitals  # the backward sweep's vectors and gradient blocks
        whole = max(model.size)
        if self._tile is not None:
            extent = self._tile or whole
        elif model.n_states * row * live <= TILE_BYTES:
            extent = whole
        else:
            cells = TILE_BYTES / (row * live * model.n_states / math.prod(model.size))
            extent = max(1, int(cells ** (1 / len(model.size))) - 2 * depth)
            if ((extent + 2 * depth) / extent) ** len(model.size) - 1 > MAX_HALO:
                extent = whole
        grid = tuple(math.ceil(s / extent) for s in model.size)
        if grid not in self._tilings:
            self._tilings[grid] = Tiling(model.size, model.orbitals, self._hopping, extent,
                                         depth)
        return self._tilings[grid]

    def _forward(self, probes, ops, tiling):
        """Chebyshev vectors t_n = T_n(A) p in three rotating buffers per domain; returns the
        moments (batch, M) (float64 sums of Re <p|t_n>) and (t_{M-2}, t_{M-1}) for the
        backward sweep."""
        m_moments = self.settings.moments
        v = ops[0].probes(probes)
        moments = torch.zeros(ops[0].batch, m_moments, dtype=torch.float64)
        moments[:, 0] = _dots_columns(probes, v)
        cores = [probes[domain.core] for domain in tiling.domains]

        def step(k, n, vectors):
            previous, current, spare = vectors
            rows = tiling.domains[k].core_states
            if n == 1:
                ops[k].chebyshev(previous, None, current, alpha=1.0)
                moments[:, 1] += _dots_columns(cores[k], current[:rows])
                return vectors
            ops[k].chebyshev(current, previous, spare)
            moments[:, n] += _dots_columns(cores[k], spare[:rows])
            return [current, spare, previous]

        previous, current = tiling.run([v.clone(), torch.empty_like(v)], 1,
                                       list(range(1, m_moments)), step)
        self._check_growth(current, probes)
        return moments, (previous, current)

    def _check_growth(self, current, probes):
        # |T_n(x)| <= 1 on [-1, 1]: growth means the window misses part of the spectrum
        limit = 1.5 * float(probes.abs().square().sum()) + 1.0
        if not bool(torch.isfinite(current).all()) or \
                float(current.abs().square().sum(0).sum(-1).max()) > limit:
            raise KPMError(
                "the Chebyshev recursion diverged: the spectrum is not inside the window "
                "(bounds too narrow); leave bounds out (Gershgorin) or widen them")

    def _backward(self, probes, state, coefficients, ops, tiling):
        """Gradient blocks sum_n w_n sum_p conj(s_{n+1}[i a]) t_n[i b] arranged
        D[i, a, b, batch] (F needs Re sum_ab Gamma[a, b] D[i, a, b]), float64; the t_n are
        recomputed downwards from (t_{M-2}, t_{M-1}) (`state`, overwritten)."""
        m_moments = self.settings.moments
        n_sites, d, batch = self.model.n_sites, self.model.orbitals, ops[0].batch
        c = coefficients.to(self.dtype)  # (batch, M)
        v = ops[0].probes(probes)
        cols = v.shape[-1]
        s_up = v * c[:, m_moments - 1][None, :, None]  # s_{M-1}
        blocks = torch.zeros(n_sites, d, d, batch, cols, dtype=v.dtype)
        sources = [v.index_select(0, domain.states) if not tiling.whole else v
                   for domain in tiling.domains]

        def step(k, n, vectors):
            t_down, t_up, s_up, s_up2, t_spare, s_spare = vectors
            domain, op, source = tiling.domains[k], ops[k], sources[k]
            rows = domain.core_states
            ss = s_up[:rows].view(rows // d, d, batch, cols)
            tt = t_down[:rows].view(rows // d, d, batch, cols)
            core = blocks[domain.core_sites]
            weight = 2.0 if n >= 1 else 1.0
            for a in range(d):
                left = ss[:, a].conj() if self.complex else ss[:, a]
                for b in range(d):
                    core[:, a, b].addcmul_(left, tt[:, b], value=weight)
            if n == 0:
                return vectors
            op.chebyshev(s_up, s_up2, s_spare)
            if batch == 1:
                s_spare.add_(source, alpha=float(c[0, n]))
            else:
                s_spare.addcmul_(source, c[:, n][None, :, None])
            if n >= 2:
                op.chebyshev(t_down, t_up, t_spare)
            else:
                t_spare.copy_(source)
            return [t_spare, t_down, s_spare, s_up, t_up, s_up2]

        t_down, t_up = state  # t_{M-2}, t_{M-1}
        tiling.run([t_down, t_up, s_up, torch.zeros_like(s_up)], 2,
                   list(range(m_moments - 2, -1, -1)), step)
        total = blocks.sum(-1)
        return total.to(torch.complex128 if total.is_complex() else torch.float64)

    def _find_mu(self, weighted: np.ndarray, electrons: int) -> np.ndarray:
        """x_mu per configuration with sum_n nu_n(x_mu) k_n mu_n = electrons, by bisection
        (`weighted` = k_n mu_n times the trace scale)."""
        lo = np.full(weighted.shape[0], -1.0)
        hi = np.full(weighted.shape[0], 1.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            nu, _ = step_coefficients(mid, weighted.shape[1])
            count = (nu * weighted).sum(1)
            below = count < electrons
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)


def _norms(v: torch.Tensor) -> torch.Tensor:
    return v.abs().square().sum((0, 2)).sqrt().to(torch.float64)


def _dots(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (v.conj() * w).real.sum((0, 2)).to(torch.float64)


class _Operator:
    """A = (H - b)/a on vectors (n_states, batch, cols): the sparse hopping product into
    preallocated buffers (torch.addmm with out=; allocation would cost as much as the
    product) plus the on-site blocks."""

    def __init__(self, hopping, onsite, inv_half, complex_vectors):
        self.batch = onsite.shape[-1]
        self.onsite = onsite  # (n_sites, d, d, batch), already (H_onsite - b)/a
        self.d = onsite.shape[1]
        self.complex = complex_vectors and not hopping.dtype.is_complex
        if self.batch == 1:
            self.hopping, self.scale = hopping * float(inv_half[0]), None
        else:
            self.hopping = hopping
            self.scale = inv_half.to(hopping.real.dtype if hopping.is_complex()
                                     else hopping.dtype)[None, :, None]
        self._temporary = None

    def probes(self, probes):
        return probes[:, None, :].expand(-1, self.batch, -1).contiguous()

    def _flat(self, x):
        n = x.shape[0]
        return torch.view_as_real(x).reshape(n, -1) if self.complex else x.reshape(n, -1)

    def chebyshev(self, x, previous, out, alpha: float = 2.0):
        """out = alpha A x - previous (previous None: out = alpha A x)."""
        if self.scale is None:
            if previous is None:
                torch.mm(self.hopping, self._flat(x), out=self._flat(out))
                if alpha != 1.0:
                    out.mul_(alpha)
            else:
                torch.addmm(self._flat(previous), self.hopping, self._flat(x), beta=-1.0,
                            alpha=alpha, out=self._flat(out))
        else:
            if self._temporary is None or self._temporary.shape != x.shape:
                self._temporary = torch.empty_like(x)
            torch.mm(self.hopping, self._flat(x), out=self._flat(self._temporary))
            torch.mul(self._temporary, self.scale * alpha, out=out)
            if previous is not None:
                out.sub_(previous)
        n_sites, d = self.onsite.shape[0], self.d
        xs = x.view(n_sites, d, *x.shape[1:])
        outs = out.view(n_sites, d, *out.shape[1:])
        for a in range(d):
            for b in range(d):
                outs[:, a].addcmul_(self.onsite[:, a, b, :, None], xs[:, b], value=alpha)


def _dots_columns(probes: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """sum_p Re <p|vectors[:, b, p]> per configuration b, float64 (no large temporaries)."""
    if vectors.shape[1] == 1:
        return torch.vdot(probes.reshape(-1), vectors.reshape(-1)).real.to(torch.float64)[None]
    return torch.einsum("np,nbp->b", probes.conj(), vectors).real.to(torch.float64)
