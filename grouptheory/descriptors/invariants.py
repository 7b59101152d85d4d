"""Stage 3: pointwise invariants of the IR coefficients, as sympy expressions in the stencil
outputs y_k (`y(k)`). Each family returns [(feature name, expression)].

- power:       p^{Γ,r} = f·f (eq. 23); with `cross`, p^{Γ,r,r'} = f^{Γ,r}·f^{Γ,r'} (eq. 34).
- bispectrum:  b = Σ C^{Γ;Γ1Γ2}_{κ,μν} f^{Γ,r}_κ f^{Γ1,r1}_μ f^{Γ2,r2}_ν (eq. 33), with every
               copy r of Γ and partner copies r1, r2 ≤ `max_copy` (the full set grows as N³).
- reference:   Sec. IV C generalised to any site group. The reference f^{Γ,*} = Σ_r f^{Γ,r}
               (every block contributes, cf. Fig. 7) is normalised smoothly,
               R = f*/sqrt(|f*|² + ε²). For each irrep a frame e_1…e_d is taken from R^Γ and
               the CG products P_Γ(R^{Γ1}⊗R^{Γ2}) (first d independent ones, in table order):
               g^{Γ,r}_k = e_k·f^{Γ,r} (eqs. 75, 80; g = f for the trivial irrep), plus the
               normalised reference bispectra b*^{Γ;Γ1,Γ2} among the references (eqs. 78, 83).
- phase:       Sec. VI B: for the trivial irrep f itself; otherwise p^{Γ,r} and the phase
               η^{Γ,r} = f^{Γ,r}·f^{Γ,*} / sqrt((|f^{Γ,r}|² + ε²)(|f^{Γ,*}|² + ε²)).
- raw:         the IR coefficients f^{Γ,r}_μ themselves: no invariants. They are an orthogonal
               change of variables of the raw neighborhood values (for a scalar field
               Σ f² = Σ_j Q_j²), so a network on them is the paper's "no descriptor" baseline,
               with no symmetry built in.
`distinct` drops a feature that is an exact constant multiple of an earlier one (the reference
family's b*(B2;A2,B1), b*(B1;A2,B2), b*(A2;B1,B2) on the square lattice are one product,
b*(B1;E,E) = b*(E;B1,E)/√2): such a feature adds no information, the Jacobian rank is the same.
Smoothing ε > 0 (default 0.1, in units of the field) removes the sign()/normalisation
discontinuity of the paper's η (ε = 0 reproduces it): forces must be continuous in dynamics.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .stencil import LinearStage


def y(k: int) -> sp.Symbol:
    return sp.Symbol(f"y{k}", real=True)


def _vec(outs):
    return [y(k) for k in outs]


def _contract(block_matrix, f1, f2):
    """u_κ = Σ_{μν} C_{κ,(μ,ν)} f1_μ f2_ν."""
    d2 = len(f2)
    return [sp.Add(*[block_matrix[k, m * d2 + n] * a * b for m, a in enumerate(f1)
                     for n, b in enumerate(f2) if block_matrix[k, m * d2 + n] != 0])
            for k in range(block_matrix.rows)]


def _multiple(e: sp.Expr, base: sp.Expr) -> sp.Expr | None:
    """The exact number c with e = c·base, or None."""
    ratio = sp.simplify(e / base)
    return ratio if ratio.is_number and ratio != 0 else None


def distinct(features, points: int = 3, seed: int = 7):
    """(kept, dropped): `features` [(name, expression)] without the exact constant multiples
    of earlier ones, and {dropped name: (kept name, exact factor)}. Candidates are found by
    their values at random points, then proved by sympy (the ratio simplifies to a number)."""
    rng = np.random.default_rng(seed)
    symbols = sorted({s for _, e in features for s in e.free_symbols}, key=lambda s: s.name)
    values = rng.standard_normal((points, len(symbols)))
    evaluate = sp.lambdify(symbols, [e for _, e in features], "math")
    numeric = np.array([evaluate(*v) for v in values], dtype=float).T
    kept, dropped = [], {}
    for j, (name, e) in enumerate(features):
        for i in kept:
            a, b = numeric[i], numeric[j]
            c = b[0] / a[0] if a[0] else 0.0
            if c and np.allclose(b, c * a, rtol=1e-9, atol=0):
                factor = _multiple(e, features[i][1])
                if factor is not None:
                    dropped[name] = (features[i][0], factor)
                    break
        else:
            kept.append(j)
    return [features[i] for i in kept], dropped


def _trivial(group):
    return group.irreps[0].name


def power(group, index, cross: bool = False):
    features = [(f"p({g},{r})", sp.Add(*[v**2 for v in _vec(outs)]))
                for (g, r), outs in index.items()]
    if cross:
        for (g, r), outs in index.items():
            for (g2, r2), outs2 in index.items():
                if g2 == g and r2 > r:
                    features.append((f"p({g},{r},{r2})",
                                     sp.Add(*[a * b for a, b in zip(_vec(outs), _vec(outs2))])))
    return features


def raw(index):
    return [(f"f({g},{r})" + (f"_{mu + 1}" if len(outs) > 1 else ""), y(k))
            for (g, r), outs in index.items() for mu, k in enumerate(outs)]


def bispectrum(group, index, max_copy: int = 1):
    partners = [(g, r) for (g, r) in index if r <= max_copy]
    features = []
    for i, (g1, r1) in enumerate(partners):
        for g2, r2 in partners[i:]:
            seen = {}
            for block in group.clebsch_gordan(g1, g2):
                seen[block.irrep] = seen.get(block.irrep, 0) + 1
                u = _contract(block.matrix, _vec(index[g1, r1]), _vec(index[g2, r2]))
                tag = f"[{seen[block.irrep]}]" if seen[block.irrep] > 1 else ""
                for (g, r), outs in index.items():
                    if g != block.irrep:
                        continue
                    b = sp.expand(sp.Add(*[a * c for a, c in zip(_vec(outs), u)]))
                    if b != 0:
                        features.append((f"b({g},{r};{g1},{r1};{g2},{r2}){tag}", b))
    return features


def _references(stage: LinearStage, group, index, smoothing):
    """{Γ: smoothly normalised reference vector R^Γ} for every non-trivial irrep present."""
    refs = {}
    for irrep in group.irreps[1:]:
        copies = [outs for (g, _), outs in index.items() if g == irrep.name]
        if not copies:
            continue
        ref = [stage.combine(f"ref({irrep.name})" + (f"_{m + 1}" if irrep.dim > 1 else ""),
                             {c[m]: 1 for c in copies}) for m in range(irrep.dim)]
        vec = _vec(ref)
        norm = sp.sqrt(sp.Add(*[v**2 for v in vec]) + sp.nsimplify(smoothing) ** 2)
        refs[irrep.name] = (vec, [v / norm for v in vec])
    return refs


def _frame(group, irrep, refs, rng):
    """First dim Γ independent covariant vectors among R^Γ and P_Γ(R^{Γ1}⊗R^{Γ2})."""
    candidates = [refs[irrep.name][1]] if irrep.name in refs else []
    names = list(refs)
    for i, a in enumerate(names):
        for b in names[i:]:
            for block in group.clebsch_gordan(a, b):
                if block.irrep == irrep.name:
                    candidates.append(_contract(block.matrix, refs[a][1], refs[b][1]))
    symbols = sorted({s for c in candidates for e in c for s in e.free_symbols}, key=str)
    point = dict(zip(symbols, rng.standard_normal(len(symbols))))
    chosen, numeric = [], []
    for c in candidates:
        value = [float(e.subs(point)) for e in c]
        if np.linalg.matrix_rank(np.array(numeric + [value]), tol=1e-8) > len(numeric):
            chosen.append(c)
            numeric.append(value)
        if len(chosen) == irrep.dim:
            return chosen
    raise ValueError(f"no complete reference frame for {irrep.name}: the neighborhood is too "
                     "small for the reference descriptor")


def reference(stage: LinearStage, group, index, smoothing: float = 0.1):
    refs = _references(stage, group, index, smoothing)
    rng = np.random.default_rng(2022)
    trivial = _trivial(group)
    features = []
    frames = {g.name: _frame(group, g, refs, rng) for g in group.irreps[1:] if g.name in refs}
    for (g, r), outs in index.items():
        f = _vec(outs)
        if g == trivial:
            features.append((f"g({g},{r})", f[0]))
            continue
        for k, e in enumerate(frames[g]):
            suffix = f"_{k + 1}" if len(frames[g]) > 1 else ""
            features.append((f"g({g},{r}){suffix}", sp.Add(*[a * b for a, b in zip(e, f)])))
    names = list(refs)
    for i, a in enumerate(names):
        for b in names[i:]:
            seen = {}
            for block in group.clebsch_gordan(a, b):
                seen[block.irrep] = seen.get(block.irrep, 0) + 1
                if block.irrep == trivial or block.irrep not in refs:
                    continue
                u = _contract(block.matrix, refs[a][1], refs[b][1])
                value = sp.Add(*[x * z for x, z in zip(refs[block.irrep][1], u)])
                if sp.expand(value) != 0:
                    tag = f"[{seen[block.irrep]}]" if seen[block.irrep] > 1 else ""
                    features.append((f"b*({block.irrep};{a},{b}){tag}", value))
    return features


def phase(stage: LinearStage, group, index, smoothing: float = 0.1):
    refs = _references(stage, group, index, smoothing)
    eps2 = sp.nsimplify(smoothing) ** 2
    trivial = _trivial(group)
    features = []
    for (g, r), outs in index.items():
        f = _vec(outs)
        if g == trivial:
            features.append((f"f({g},{r})", f[0]))
            continue
        p = sp.Add(*[v**2 for v in f])
        ref = refs[g][0]
        ref2 = sp.Add(*[v**2 for v in ref])
        features.append((f"p({g},{r})", p))
        features.append((f"eta({g},{r})", sp.Add(*[a * b for a, b in zip(f, ref)])
                         / sp.sqrt((p + eps2) * (ref2 + eps2))))
    return features
