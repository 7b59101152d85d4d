"""Schoenflies identification, standard class names and Mulliken irrep labels.

Rules (documented conventions, applied to any orientation of the group):
- principal axis: the axis of highest proper rotation order (z preferred on ties); cubic
  groups (T, Th, Td, O, Oh) use their own rules below;
- C2 axes perpendicular to it: one class → "C2" ("C2'" when a C2 lies on the principal
  axis too); two classes → C2' is the class with an axis closest to the reference direction
  (x, or a lattice's first vector), C2'' the other. Orthorhombic groups (D2, D2h, C2v) use
  C2(z), C2(y), C2(x), σ(xy), σ(xz), σ(yz) in their own frame: z the principal axis, x the
  two-fold axis (C2v: mirror normal) closest to the reference direction;
- mirrors: σh ⟂ principal axis; vertical ones σv / σd: in D_nh σv contains a C2' axis, in D_nd
  they are σd, in C_nv σv contains the reference direction; cubic: 3σh, 6σd;
- cubic classes: 8C3 (or 4C3, 4C3^2), 3C2 (along the four-fold/coordinate axes), 6C4, 6C2'
  (face diagonals), 6S4, 8S6, 3σh, 6σd;
- a class and its inverse class, when distinct, are C_n and C_n^(n-1) (S_n, S_n^(n-1)):
  the first in table order gets the plain symbol.
Mulliken labels: dimension 1, 2, 3 → A/B, E, T; A iff symmetric under the principal
rotation (S4 in S4, D2d); subscript 1/2 by the C2' class, else by σv; E1/E2 by χ(C6); T1/T2
by χ(C4) (χ(S4) in Td); D2, D2h: B1, B2, B3 symmetric under C2(z), C2(y), C2(x); g/u by
inversion; ' / '' by σh when there is no inversion.
"""

from __future__ import annotations

import numpy as np

from .catalog import CUBIC, fingerprint, fingerprints_3d
from .errors import GroupTheoryError

_ORTHORHOMBIC = {"D2", "D2h", "C2v"}
_PLANE = {"x": "yz", "y": "xz", "z": "xy"}


def identify(kinds, dimension: int, floats: np.ndarray) -> str:
    """Schoenflies name from the operation kinds (2D: C_n or D_n as in the paper)."""
    if dimension == 2:
        rotations = sum(1 for m in floats if np.linalg.det(m) > 0)
        mirrors = len(floats) - rotations
        return f"{'D' if mirrors else 'C'}{rotations}"
    try:
        return fingerprints_3d()[fingerprint(kinds)]
    except KeyError:
        raise GroupTheoryError("the operations do not form a crystallographic point group")


def _axis(t) -> np.ndarray:
    return np.array(t.axis)


def _parallel(a, b) -> bool:
    return abs(abs(float(np.dot(a, b))) - 1) < 1e-6


def _perpendicular(a, b) -> bool:
    return abs(float(np.dot(a, b))) < 1e-6


def _principal_axis(types) -> np.ndarray | None:
    proper = [t for t in types if t.det == 1 and t.n > 1]
    if not proper:
        mirrors = [t for t in types if t.is_mirror]
        return _axis(mirrors[0]) if mirrors else None
    top = max(t.n for t in proper)
    axes = [_axis(t) for t in proper if t.n == top]
    return max(axes, key=lambda a: (round(abs(a[2]), 6), round(abs(a[1]), 6)))


def _orthorhombic_frame(group_name, types, principal, reference):
    """(x, y, z) axes of D2, D2h, C2v: z the principal axis, x the two-fold axis (D2, D2h)
    or mirror normal (C2v) closest to the reference direction, y the third."""
    if group_name not in _ORTHORHOMBIC:
        return None
    kind = (1, 2) if group_name != "C2v" else (-1, 2)
    axes = []
    for t in types:
        if (t.kind == kind and not _parallel(_axis(t), principal)
                and not any(_parallel(_axis(t), a) for a in axes)):
            axes.append(_axis(t))
    x = max(axes, key=lambda a: abs(float(np.dot(a, reference))))
    return {"x": x, "y": np.cross(principal, x), "z": principal}


def _frame_label(frame, axis) -> str:
    return next(label for label, a in frame.items() if _parallel(a, axis))


def name_classes(group_name: str, types, classes, reference):
    """[(members, name, symbol, role)] in table order, for raw class index lists."""
    reference = np.array(reference, dtype=float)
    reference = reference / np.linalg.norm(reference)
    cubic = group_name in CUBIC
    principal = None if cubic else _principal_axis(types)
    frame = _orthorhombic_frame(group_name, types, principal, reference)
    def min_power(members):
        t = types[members[0]]
        if t.det == 1:
            return min(types[m].k for m in members)
        return min(types[m].rotoreflection[1] for m in members)

    perp_c2 = [c for c in classes if not cubic and principal is not None
               and types[c[0]].det == 1 and types[c[0]].n == 2
               and _perpendicular(_axis(types[c[0]]), principal)
               and not _parallel(_axis(types[c[0]]), principal)]
    principal_c2 = any(t.det == 1 and t.n == 2 and principal is not None
                       and _parallel(_axis(t), principal) for t in types)
    has_sigma_h = any(t.is_mirror and principal is not None and _parallel(_axis(t), principal)
                      for t in types)

    def closeness(members):
        return max(abs(float(np.dot(_axis(types[m]), reference))) for m in members)

    primed = sorted(perp_c2, key=closeness, reverse=True)
    vertical = [c for c in classes if types[c[0]].is_mirror and principal is not None
                and _perpendicular(_axis(types[c[0]]), principal)]

    def describe(members):
        """(symbol, sort key, role)"""
        t = types[members[0]]
        axis = _axis(t)
        if t.is_identity:
            return "E", (0, 0), None
        if t.is_inversion:
            return "i", (10, 0), "inversion"
        if cubic:
            return _describe_cubic(t, members, min_power(members))
        if frame and t.n == 2:
            label = _frame_label(frame, axis)
            order = {"z": 0, "y": 1, "x": 2}[label]
            if t.det == 1:
                return f"C2({label})", (1, order), f"c2_{label}"
            if group_name == "C2v":
                role = "vertical_xz" if label == "y" else None
                return f"σv({_PLANE[label]})", (12 + order, 0), role
            return f"σ({_PLANE[label]})", (12 + order, 0), None
        if t.det == 1:
            if members in perp_c2:
                if len(primed) == 2:
                    level = primed.index(members) + 1
                    return "C2" + "'" * level, (2, level), "perpendicular" if level == 1 else None
                return ("C2'" if principal_c2 else "C2"), (2, 1), "perpendicular"
            k = min_power(members)
            symbol = f"C{t.n}" if k == 1 else f"C{t.n}^{k}"
            role = "principal" if k == 1 and t.n == max(x.n for x in types if x.det == 1) \
                else None
            return symbol, (1, k / t.n), role
        if t.is_mirror:
            if principal is None or _parallel(axis, principal):
                return "σh", (12, 0), "horizontal"
            if perp_c2:
                if not has_sigma_h:
                    return "σd", (14, 0), "vertical"
                contains_c2p = any(_perpendicular(axis, _axis(types[m])) for m in primed[0])
                return ("σv", (13, 0), "vertical") if contains_c2p else ("σd", (14, 0), None)
            if len(vertical) == 2:
                first = min(vertical, key=lambda c: min(
                    abs(float(np.dot(_axis(types[m]), reference))) for m in c))
                return ("σv", (13, 0), "vertical") if members == first else ("σd", (14, 0), None)
            return "σv", (13, 0), "vertical"
        m, _ = t.rotoreflection
        j = min_power(members)
        role = None
        if j == 1 and m == 4 and not any(x.is_inversion for x in types):
            role = "principal"
        return (f"S{m}" if j == 1 else f"S{m}^{j}"), (11, m, j), role

    described = [(members, *describe(members)) for members in classes]
    if any(role == "principal" and symbol.startswith("S") for _, symbol, _, role in described):
        described = [(c, s, k, None if (r == "principal" and s.startswith("C")) else r)
                     for c, s, k, r in described]
    described.sort(key=lambda item: item[2])
    result, used = [], set()
    for members, symbol, _, role in described:
        if symbol in used and symbol[0] in "CS" and "^" not in symbol and symbol[1:].isdigit():
            n = int(symbol[1:])
            symbol = f"{symbol}^{n - 1}"
        used.add(symbol)
        size = len(members)
        result.append((members, f"{size if size > 1 else ''}{symbol}", symbol, role))
    return result


def _describe_cubic(t, members, power):
    size = len(members)
    if t.det == 1:
        if t.n == 3:
            return ("C3" if power == 1 or size == 8 else "C3^2"), (1, 0), None
        if t.n == 2 and size == 3:
            return "C2", (2, 0), None
        if t.n == 4:
            return "C4", (3, 0), "c4"
        return "C2'", (4, 0), "perpendicular"
    if t.is_mirror:
        return ("σh", (12, 0), None) if size == 3 else ("σd", (14, 0), "vertical")
    m, _ = t.rotoreflection
    return f"S{m}", (11, m, 0), ("s4" if m == 4 else None)


def class_roles(group) -> dict[str, int]:
    """role → class index, for the roles used by Mulliken labelling."""
    roles = {}
    for c, cls in enumerate(group.classes):
        if cls.role:
            roles[cls.role] = c
    return roles


def irrep_label(group, characters) -> str:
    """Mulliken label of a real irreducible character (values per class, class order)."""
    roles, name = group.roles, group.name

    def at(role):
        return characters[roles[role]] if role in roles else None

    dim = characters[0]
    if dim == 1:
        if {"c2_x", "c2_y", "c2_z"} <= roles.keys():
            symmetric = [at(f"c2_{a}") == 1 for a in "zyx"]
            label = "A" if all(symmetric) else "B" + str(1 + symmetric.index(True))
        else:
            principal = at("principal") if "principal" in roles else at("c2_z")
            label = "A" if principal is None or principal == 1 else "B"
            for role in ("perpendicular", "vertical", "vertical_xz"):
                if at(role) is not None:
                    label += "1" if at(role) == 1 else "2"
                    break
    elif dim == 2:
        label = "E"
        if "principal" in roles and group.classes[roles["principal"]].symbol == "C6":
            label += "1" if at("principal") == 1 else "2"
    elif dim == 3:
        label = "T"
        four_fold = at("c4") if "c4" in roles else at("s4")
        if four_fold is not None:
            label += "1" if four_fold == 1 else "2"
    else:
        raise GroupTheoryError(f"no Mulliken letter for an irrep of dimension {dim}")
    if at("inversion") is not None:
        label += "g" if at("inversion") > 0 else "u"
    elif at("horizontal") is not None and name not in CUBIC:
        label += "'" if at("horizontal") > 0 else "''"
    return label


def irrep_sort_key(label: str):
    """Standard table order: g before u, ' before '', then A, B, E, T, then subscript."""
    parity = 1 if label.endswith(("u", "''")) else 0
    return (parity, "ABET".index(label[0]), label)
