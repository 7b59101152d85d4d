"""Classical field types: how the components at a site transform.

Type I fields transform with the lattice (eqs. 10, 13): under a site-group operation g the
value at the image site is M(g) times the old value. Type II fields carry an internal
symmetry independent of the lattice (eq. 11): spins, whose lattice-level building blocks
are SO(3) invariants (see `building_blocks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from . import exact
from .errors import RepresentationError
from .polynomials import PolynomialSpace, X, Y, Z


@dataclass(frozen=True)
class Field:
    """A field type: `name`, component names, and for type I the rule g ↦ M(g).

    Use the constructors: `Field.scalar()`, `Field.irrep("B1")`, `Field.jahn_teller()`,
    `Field.quadrupole()`, `Field.vector()`, `Field.custom(rule, components)` and `Field.spin()`.
    """

    name: str
    components: tuple[str, ...]
    internal: bool = False  # type II
    rule: Callable | None = field(default=None, repr=False, compare=False)
    options: tuple = ()  # type II building-block options, as sorted (key, value) pairs

    # -- type I ----------------------------------------------------------------------------
    @classmethod
    def scalar(cls, symbol: str = "Q") -> Field:
        """A scalar (A1) field such as the Holstein distortion Q (Sec. IV)."""
        return cls("scalar", (symbol,), rule=lambda group: [sp.ImmutableMatrix([[1]])] *
                   group.order)

    @classmethod
    def irrep(cls, name: str, symbol: str = "Q") -> Field:
        """A field transforming as irrep `name` of the site group (e.g. "B1" on D4)."""
        return cls(name, (symbol,), rule=lambda group: list(group.irrep(name).matrices))

    @classmethod
    def jahn_teller(cls) -> Field:
        """The e_g doublet (Q^x ~ x² − y², Q^z ~ 3z² − r²) of Sec. V; on the square lattice
        Q^x transforms as B1 and Q^z as A1 of D4."""
        functions = (X**2 - Y**2, 2 * Z**2 - X**2 - Y**2)
        return cls("jahn_teller", ("Qx", "Qz"),
                   rule=lambda group: _function_matrices(
                       group, functions, "Jahn–Teller doublet (x²−y², 3z²−r²)",
                       hint="; on trigonal and hexagonal sites use the quadrupole field "
                            "(x²−y², 2xy)"))

    @classmethod
    def quadrupole(cls) -> Field:
        """The in-plane quadrupole doublet (x² − y², 2xy): the Jahn–Teller doublet of
        trigonal and hexagonal sites (E of D3, E2 of D6; B1 ⊕ B2 of D4), where the e_g
        pair of `jahn_teller` mixes with xy."""
        functions = (X**2 - Y**2, 2 * X * Y)
        return cls("quadrupole", ("Qx2y2", "Qxy"),
                   rule=lambda group: _function_matrices(
                       group, functions, "quadrupole doublet (x²−y², 2xy)",
                       hint="; on cubic sites (and in 3D) the Jahn–Teller doublet is the "
                            "e_g pair: use the jahn_teller field (x²−y², 3z²−r²)"))

    @classmethod
    def vector(cls) -> Field:
        """A displacement u: components along the lattice's own axes, M(g) = g."""

        return cls("vector", ("ux", "uy", "uz"), rule=lambda group: list(group.elements))

    @classmethod
    def custom(cls, rule, components, name: str = "custom") -> Field:
        """A type-I field from `rule`: a callable g (exact matrix) ↦ M(g), or a list of
        matrices aligned with `group.elements`. Checked to be an orthogonal representation."""
        components = tuple(components)

        def matrices(group):
            if callable(rule):
                return [sp.ImmutableMatrix(rule(g)) for g in group.elements]
            if len(rule) != group.order:
                raise RepresentationError(
                    f"custom field: {len(rule)} matrices for a group of order {group.order}")
            return [sp.ImmutableMatrix(m) for m in rule]

        return cls(name, components, rule=matrices)

    # -- type II ---------------------------------------------------------------------------
    @classmethod
    def spin(cls, bond_shells: int = 1, chirality_shells: int = 2,
             spin_length: bool = False) -> Field:
        """Classical spins S (O(3) vectors, Sec. VI). Building blocks: center bonds S_i·S_j,
        off-center bonds S_j·S_k with |r_jk| within the `bond_shells`-th shell distance,
        chiralities S_i·(S_j×S_k) of triangles whose edges are within the
        `chirality_shells`-th shell distance (eqs. 93–94, Fig. 11), and |S_j|² if
        `spin_length` (variable-length spins, spin-density waves); then completed by further
        off-center bonds and lengths where these leave the neighborhood's spins undetermined
        modulo global rotations (`building_blocks`)."""
        if bond_shells < 0 or chirality_shells < 0:
            raise ValueError("bond_shells and chirality_shells must be ≥ 0 (0 switches off)")
        options = (("bond_shells", int(bond_shells)), ("chirality_shells",
                   int(chirality_shells)), ("spin_length", bool(spin_length)))
        return cls("spin", ("Sx", "Sy", "Sz"), internal=True, options=options)

    # -- use -------------------------------------------------------------------------------
    def component_names(self, group) -> tuple[str, ...]:
        """Names of the M components on `group` (Q1, Q2, … when there are more than given)."""
        if self.internal:
            return self.components
        dim = self.rule(group)[0].shape[0]
        if len(self.components) >= dim:
            return self.components[:dim]
        return tuple(f"{self.components[0]}{k + 1}" for k in range(dim))

    def matrices(self, group) -> list[sp.ImmutableMatrix]:
        """M(g) for every element of `group`, checked exactly to be an orthogonal
        representation (type I only)."""
        if self.internal:
            raise RepresentationError(f"{self.name} is a type-II field: it does not transform "
                                      "with the lattice; use its building blocks")
        mats = self.rule(group)
        _check_representation(group, mats, self.name)
        return mats

    def option(self, key):
        return dict(self.options)[key]


def _check_representation(group, mats, name):
    if len(mats) != group.order:
        raise RepresentationError(f"field {name}: {len(mats)} matrices for {group.order} "
                                  "group elements")
    dims = {m.shape for m in mats}
    if len(dims) != 1 or next(iter(dims))[0] != next(iter(dims))[1]:
        raise RepresentationError(f"field {name}: matrices must be square and of one size")
    field_ = exact.number_field(x for m in mats for x in m)
    dm = [exact.domain_matrix(m, field_) for m in mats]
    one = exact.domain_matrix(sp.eye(mats[0].shape[0]), field_)
    for g, m in enumerate(dm):
        if m * m.transpose() != one:
            raise RepresentationError(f"field {name}: M({g}) is not orthogonal")
        for h in range(group.order):
            if m * dm[h] != dm[group.table[g, h]]:
                raise RepresentationError(
                    f"field {name}: M(g)M(h) ≠ M(gh) for elements {g}, {h} of "
                    f"{group.name}: the matrices are not a representation of the group")


def _function_matrices(group, functions, what, hint: str = ""):
    """How span{functions} (quadratic polynomials in x, y, z) transforms; error if the
    span is not invariant under the group."""
    operations = group.embedded
    field_ = exact.number_field(x for g in operations for x in g)
    space = PolynomialSpace(operations, 0, 2, field_)
    vectors = []
    for f in functions:
        poly = sp.Poly(f, X, Y, Z)
        vectors.append(exact.domain_matrix(
            sp.Matrix([poly.coeff_monomial(X**a * Y**b * Z**c) for a, b, c in space.exponents]),
            field_))
    norms = [exact.dot(v, v, space.metric) for v in vectors]
    result = []
    for m in space.matrices:
        rows = [[exact.dot(a, m * b, space.metric) for b in vectors] for a in vectors]
        for j, b in enumerate(vectors):  # the image must lie in the span
            image = m * b
            rebuilt = sum((vectors[i] * (rows[i][j] / norms[i]) for i in range(len(vectors))),
                          image * field_.zero)
            if rebuilt != image:
                raise RepresentationError(
                    f"the {what} is not a representation of {group.name}: "
                    f"its components mix with other functions under the site group{hint}")
        result.append(sp.ImmutableMatrix(
            [[sp.radsimp(field_.to_sympy(rows[i][j]) /
                         sp.sqrt(field_.to_sympy(norms[i] * norms[j])))
              for j in range(len(vectors))] for i in range(len(vectors))]))
    return result
