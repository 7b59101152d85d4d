"""Neighborhood decomposition into irreps (eqs. 17–18, 37–38, 47–48) for every field type."""

from functools import cache

import numpy as np
import pytest
import sympy as sp

from grouptheory import Field, Lattice, LatticeError, RepresentationError, decompose, exact

from .conftest import PRESETS

FIELDS = {
    "scalar": Field.scalar,
    "irrep": lambda: None,  # filled per lattice: a non-trivial one-dimensional irrep
    "jahn_teller": Field.jahn_teller,
    "vector": Field.vector,
    "spin": lambda: Field.spin(bond_shells=1, chirality_shells=2, spin_length=True),
}
JT_LATTICES = {"square", "cubic", "bcc", "fcc"}


def make_field(kind, lattice):
    if kind == "irrep":
        name = next(i.name for i in lattice.site_group().irreps[1:] if i.dim == 1)
        return Field.irrep(name)
    return FIELDS[kind]()


@cache
def decomposition(lattice_name, kind, shells=2):
    lattice = Lattice.preset(lattice_name)
    return decompose(lattice.neighborhood(shells=shells), make_field(kind, lattice))


CASES = [(lat, kind) for lat in PRESETS for kind in FIELDS
         if kind != "jahn_teller" or lat in JT_LATTICES]


def _evaluator(dec):
    """values[site][component] (floats) ↦ all f^{Γ,r}_μ stacked, via the entry expressions
    (an evaluation independent of the decomposition's own matrices)."""
    hood, comps = dec.neighborhood, dec.component_names
    symbols = [sp.Symbol(f"{name}[{hood.label(n)}]", real=True)
               for n in range(len(hood)) for name in comps]
    entries = sp.lambdify(symbols, list(dec.building_block_expressions().values()), "numpy")
    upsilon = np.array(dec.matrix().evalf(), dtype=float)
    return lambda values: upsilon @ np.array(entries(*np.ravel(values)), dtype=float)


@pytest.mark.parametrize("lattice_name,kind", CASES)
def test_complete_orthonormal_and_equivariant(lattice_name, kind):
    dec = decomposition(lattice_name, kind)
    group = dec.group
    # completeness: Σ dim Γ over all (Γ, r) = dim U
    assert sum(group.irrep(c.irrep).dim for c in dec.coefficients) == dec.dimension
    assert sum(group.irrep(n).dim * m for n, m in dec.multiplicities.items()) == dec.dimension
    # orthonormal, exactly (Υ is block diagonal: check block by block)
    matrix = dec.matrix()
    owner = [c.block for c in dec.coefficients for _ in c.vectors]  # block of each row
    for b, block in enumerate(dec.blocks):
        rows = [r for r, o in enumerate(owner) if o == b]
        cols = list(block.entries)
        assert len(rows) == len(cols)
        assert matrix[rows, [c for c in range(dec.dimension) if c not in cols]].is_zero_matrix
        sub = matrix[rows, cols]
        field_ = exact.number_field(sub)
        m = exact.domain_matrix(sub, field_)
        assert m * m.transpose() == exact.domain_matrix(sp.eye(len(rows)), field_)
    # equivariance, acting on a random configuration: Φ'(g·r) = M(g) Φ(r)  ⇒  f' = D(g) f
    rng = np.random.default_rng(7)
    hood = dec.neighborhood
    ncomp = len(dec.component_names)
    values = rng.standard_normal((len(hood), ncomp))
    evaluate = _evaluator(dec)
    f = evaluate(values)
    dims = [group.irrep(c.irrep).dim for c in dec.coefficients]
    starts = np.cumsum([0] + dims)
    floats = {i.name: [np.array(m.evalf(), dtype=float) for m in i.matrices]
              for i in group.irreps}
    mats = None if dec.field.internal else [np.array(x.evalf(), dtype=float)
                                            for x in dec.field.matrices(group)]
    for g in range(group.order):
        moved = np.empty_like(values)
        for r, image in enumerate(hood.permutations[g]):
            moved[image] = values[r] if mats is None else mats[g] @ values[r]
        f_moved = evaluate(moved)
        for c, s, dim in zip(dec.coefficients, starts, dims):
            d = floats[c.irrep][g]
            assert np.abs(f_moved[s:s + dim] - d @ f[s:s + dim]).max() < 1e-10


@pytest.mark.parametrize("lattice_name", ["triangular", "honeycomb", "kagome"])
def test_jahn_teller_doublet_needs_a_compatible_group(lattice_name):
    hood = Lattice.preset(lattice_name).neighborhood(shells=1)
    with pytest.raises(RepresentationError, match="not a representation"):
        decompose(hood, Field.jahn_teller())


def _isotypic_projector(vectors):
    a = sp.Matrix.hstack(*[sp.Matrix(v) for v in vectors])
    return a * (a.T * a).inv() * a.T


def _our_projector(dec, irrep, entries):
    rows = []
    for c in dec.coefficients:
        if c.irrep == irrep and all(i in entries for v in c.vectors for i, _ in v):
            for v in c.vectors:
                row = [0] * len(entries)
                for i, coef in v:
                    row[entries.index(i)] = coef
                rows.append(row)
    return _isotypic_projector(rows) if rows else sp.zeros(len(entries))


def _block_of(dec, shell):
    """Entry indices of the block whose sites are at `shell`."""
    for b in dec.blocks:
        if dec.neighborhood.sites[dec.entries[b.entries[0]].sites[0]].shell == shell:
            return list(b.entries)
    raise AssertionError(shell)


# paper's sites: 4-block a, b, c, d and 8-block a … h, counter-clockwise from +x
PAPER_66 = {"A1": [[1, 1, 1, 1]], "B1": [[1, -1, 1, -1]], "E": [[1, 0, -1, 0], [0, 1, 0, -1]]}
PAPER_67 = {"A1": [[1] * 8], "A2": [[1, -1] * 4], "B1": [[1, -1, -1, 1, 1, -1, -1, 1]],
            "B2": [[1, 1, -1, -1, 1, 1, -1, -1]],
            "E": [[1, 0, 0, 0, -1, 0, 0, 0], [0, 0, 1, 0, 0, 0, -1, 0],
                  [0, 1, 0, 0, 0, -1, 0, 0], [0, 0, 0, 1, 0, 0, 0, -1]]}
PAPER_88 = {"A1": [[1, -1, 1, -1]], "B1": [[1, 1, 1, 1]], "E": [[1, 0, -1, 0], [0, -1, 0, 1]]}
PAPER_89 = {"A1": [[1, -1, -1, 1, 1, -1, -1, 1]], "A2": [[1, 1, -1, -1, 1, 1, -1, -1]],
            "B1": [[1] * 8], "B2": [[1, -1] * 4], "E": PAPER_67["E"]}


@pytest.mark.parametrize("shell,paper", [(1, PAPER_66), (4, PAPER_67)])
def test_square_scalar_blocks_are_eqs_66_67(shell, paper):
    dec = decomposition("square", "scalar", 4)
    entries = _block_of(dec, shell)
    assert len(entries) == len(paper["A1"][0])
    for irrep, vectors in paper.items():
        assert _our_projector(dec, irrep, entries) == _isotypic_projector(vectors), irrep
    covered = {n for n in dec.multiplicities if _our_projector(dec, n, entries) != sp.zeros(
        len(entries))}
    assert covered == set(paper)


@pytest.mark.parametrize("shell,qx,qz", [(1, PAPER_88, PAPER_66), (4, PAPER_89, PAPER_67)])
def test_square_jahn_teller_blocks_are_eqs_88_89(shell, qx, qz):
    """Q^x (B1) follows eqs. (88)-(89); Q^z (A1) is a scalar field, eqs. (66)-(67). The two
    components are interleaved per site in U: (Qx, Qz) for site a, then b, …"""
    dec = decomposition("square", "jahn_teller", 4)
    entries = _block_of(dec, shell)
    n = len(entries) // 2
    for irrep in set(qx) | set(qz):
        vectors = [[x for v in row for x in (v, 0)] for row in qx.get(irrep, [])]
        vectors += [[x for v in row for x in (0, v)] for row in qz.get(irrep, [])]
        assert len(vectors[0]) == 2 * n
        assert _our_projector(dec, irrep, entries) == _isotypic_projector(vectors), irrep


def test_power_spectrum_sums_match_the_paper_normalisation():
    """Σ_r p^{Γ,r} over one block is basis independent: our orthonormal copies and the
    paper's unnormalised eq. (67) give the same total after normalising."""
    dec = decomposition("square", "scalar", 4)
    entries = _block_of(dec, 4)
    rng = np.random.default_rng(3)
    u = rng.standard_normal(len(entries))
    for irrep, vectors in PAPER_67.items():
        p = np.array(_isotypic_projector(vectors).evalf(), dtype=float)
        ours = sum(sum(float(coef) * u[entries.index(i)] for i, coef in v) ** 2
                   for c in dec.coefficients if c.irrep == irrep
                   and all(i in entries for v in c.vectors for i, _ in v) for v in c.vectors)
        assert abs(ours - u @ p @ u) < 1e-12


def test_square_neighborhood_of_the_paper():
    hood = Lattice.square().neighborhood(shells=14)
    assert len(hood) == 89  # L = 89 of Sec. IV
    assert sorted({len(o) for o in hood.orbits}) == [1, 4, 8]
    assert hood.sites[0].cell == (0, 0) and hood.sites[0].shell == 0
    assert [s.distance2 for s in hood.sites[1:5]] == [1] * 4
    assert hood.shell_distances2[:5] == (1, 2, 4, 5, 8)
    summary = decompose(hood, Field.scalar())
    texts = {summary.block_description(b) for b in range(len(summary.blocks))}
    assert texts == {"1 = A1", "4 = A1 ⊕ B1 ⊕ E", "4 = A1 ⊕ B2 ⊕ E",
                     "8 = A1 ⊕ A2 ⊕ B1 ⊕ B2 ⊕ 2E"}


def test_cutoff_and_other_lattices():
    assert len(Lattice.cubic().neighborhood(shells=5)) == 57
    assert len(Lattice.triangular().neighborhood(cutoff=1)) == 7
    hood = Lattice.honeycomb().neighborhood(shells=1, site=1)
    assert len(hood) == 4 and all(s.sublattice == 0 for s in hood.sites[1:])


def test_spin_building_blocks_are_invariant_under_global_rotations():
    dec = decomposition("square", "spin", 3)
    exprs = dec.building_block_expressions()
    symbols = sorted({s for e in exprs.values() for s in e.free_symbols}, key=str)
    kinds = [e.kind for e in dec.entries]
    assert {"length", "center_bond", "bond", "chirality"} <= set(kinds)
    evaluate = sp.lambdify(symbols, list(exprs.values()), "numpy")
    rng = np.random.default_rng(11)
    names = [str(s) for s in symbols]
    sites = sorted({n.split("[")[1] for n in names})
    spins = {site: rng.standard_normal(3) for site in sites}

    def values(rotation):
        args = [(rotation @ spins[n.split("[")[1]])["xyz".index(n[1])] for n in names]
        return np.array(evaluate(*args))

    base = values(np.eye(3))
    for _ in range(5):
        q, _r = np.linalg.qr(rng.standard_normal((3, 3)))
        rotation = q * np.sign(np.linalg.det(q))  # proper rotation
        assert np.abs(values(rotation) - base).max() < 1e-12
        reflected = values(-rotation)  # improper: bonds even, chiralities odd
        sign = np.array([-1.0 if k == "chirality" else 1.0 for k in kinds])
        assert np.abs(reflected - sign * base).max() < 1e-12


def _spin_rank(dec, keep=None, seed=5):
    """(rank of ∂(building blocks `keep`, default all)/∂(spins) at a random configuration,
    number of spin components): float64 from the entries' own expressions, independent of
    the completion's ranks modulo a prime."""
    exprs = list(dec.building_block_expressions().values())
    symbols = sorted({s for e in exprs for s in e.free_symbols}, key=str)
    exprs = exprs if keep is None else [exprs[i] for i in keep]
    jacobian = sp.lambdify(symbols, sp.Matrix(exprs).jacobian(symbols), "numpy")
    values = np.random.default_rng(seed).standard_normal(len(symbols))
    singular = np.linalg.svd(np.array(jacobian(*values), dtype=float), compute_uv=False)
    return int((singular > 1e-9 * singular[0]).sum()), len(symbols)


def _distance2(hood, j, k):
    d = hood.sites[j].position - hood.sites[k].position
    return sp.nsimplify(sp.expand((d * d.T)[0]))


SPIN_HOODS = [("kagome", 2, 0), ("lieb", 2, 0), ("lieb", 2, 1), ("square", 4, 0),
              ("square", 2, 0), ("triangular", 3, 0), ("honeycomb", 3, 0),
              ("pyrochlore", 1, 0), ("diamond", 1, 0)]


@pytest.mark.parametrize("lattice_name,shells,site", SPIN_HOODS)
def test_spin_building_blocks_determine_the_neighborhood_up_to_a_rotation(lattice_name,
                                                                          shells, site):
    """Rank 3L − 3, the dimension of the spins modulo global rotations. The paper's blocks
    alone reach 23 of 24 on kagome, 21 of 24 and 14 of 18 on Lieb's corner and edge sites,
    56 of 60 on the square lattice with 4 shells, 4 of 12 on diamond with one shell."""
    hood = Lattice.preset(lattice_name).neighborhood(shells=shells, site=site)
    rank, dimension = _spin_rank(decompose(hood, Field.spin()))
    assert dimension == 3 * len(hood) and rank == dimension - 3


def test_the_completion_adds_only_needed_orbits():
    # complete already: the paper's blocks (no length, off-center bonds between neighbors)
    for lattice_name, shells in (("triangular", 3), ("honeycomb", 3), ("square", 2)):
        hood = Lattice.preset(lattice_name).neighborhood(shells=shells)
        entries = decompose(hood, Field.spin()).entries
        assert "length" not in {e.kind for e in entries}
        assert {_distance2(hood, *e.sites) for e in entries if e.kind == "bond"} == \
            {hood.shell_distances2[0]}
    # Lieb's edge site: its two corner clusters hinge about S_0 until the corner-corner bond
    # (length 1, beyond the two shells) ties them; each added orbit raises the rank
    hood = Lattice.preset("lieb").neighborhood(shells=2, site=1)
    dec = decompose(hood, Field.spin())
    corners = tuple(n for n, s in enumerate(hood.sites) if s.sublattice == 0)
    assert len(corners) == 2 and _distance2(hood, *corners) == 1
    hinge = next(b for b in dec.blocks if [dec.entries[i].sites for i in b.entries] ==
                 [corners])
    lengths = [b for b in dec.blocks if b.kind == "length"]
    assert hinge.kind == "bond" and len(lengths) == 2  # |S_0|², the corners' |S_c|²
    full, _ = _spin_rank(dec)
    for block in [hinge, *lengths]:
        kept = [i for i in range(len(dec.entries)) if i not in block.entries]
        assert _spin_rank(dec, kept)[0] < full


def test_bad_input_is_rejected_clearly():
    square = Lattice.square()
    with pytest.raises(LatticeError, match="positive integer"):
        square.neighborhood(shells=0)
    with pytest.raises(LatticeError, match="positive integer"):
        square.neighborhood(shells=-2)
    with pytest.raises(LatticeError, match="includes no neighbor"):
        square.neighborhood(cutoff=0.5)
    with pytest.raises(LatticeError, match="exactly one"):
        square.neighborhood()
    hood = square.neighborhood(shells=1)
    bad = Field.custom(lambda g: sp.Matrix([[1, 0], [0, g.det() * g[0, 0]]]), ["a", "b"])
    with pytest.raises(RepresentationError, match="not a representation|not orthogonal"):
        decompose(hood, bad)
    with pytest.raises(RepresentationError, match="matrices for a group of order 8"):
        decompose(hood, Field.custom([sp.eye(1)] * 3, ["a"]))
    with pytest.raises(RepresentationError, match="has no irrep 'T2g'"):
        decompose(hood, Field.irrep("T2g"))
