"""Character table (printing, LaTeX, JSON) and the decomposition of tensor products."""

from __future__ import annotations

from dataclasses import dataclass

from .latex import group_name, mulliken


def multiplicity(group, chi: list[int], irrep) -> int:
    """How often `irrep` occurs in a representation with character `chi` (per element)."""
    own = [irrep.characters[group.class_index[g]] for g in range(group.order)]
    total = sum(x * y for x, y in zip(chi, own))
    return total // (irrep.kappa * group.order)


def decompose_product(group, a, b) -> dict[str, int]:
    """a⊗b = ⊕ m_c c as {name: m_c} in table order (paper's Table II for D4)."""
    chi = [a.characters[group.class_index[g]] * b.characters[group.class_index[g]]
           for g in range(group.order)]
    result = {}
    for c in group.irreps:
        m = multiplicity(group, chi, c)
        if m:
            result[c.name] = m
    return result


def format_sum(decomposition: dict[str, int]) -> str:
    """"A1 ⊕ 2E" style."""
    return " ⊕ ".join(f"{m if m > 1 else ''}{name}" for name, m in decomposition.items())


@dataclass(frozen=True)
class CharacterTable:
    """The character table of a point group; `str()` prints it, `.latex()`, `.as_dict()`."""

    group: object

    @property
    def rows(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(irrep.name, irrep.characters) for irrep in self.group.irreps]

    def __str__(self) -> str:
        group = self.group
        header = [group.name] + [c.name for c in group.classes] + ["functions"]
        lines = [header]
        for irrep in group.irreps:
            functions = ", ".join(str(f) for f in irrep.basis_functions)
            lines.append([irrep.name + (" *" if irrep.complex_pair else "")]
                         + [f"{x:+d}" if x else "0" for x in irrep.characters]
                         + [f"({functions})" if irrep.dim > 1 else functions])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = ["  ".join(cell.rjust(w) if 0 < i < len(header) - 1 else cell.ljust(w)
                          for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
                for line in lines]
        text.insert(1, "-" * len(text[0]))
        if any(irrep.complex_pair for irrep in group.irreps):
            text.append("* physically irreducible: a complex-conjugate pair, χ = χ₁ + χ₂")
        return "\n".join(text)

    def latex(self) -> str:
        group = self.group
        cols = "l" + "r" * len(group.classes)
        head = " & ".join([f"${group_name(group.name)}$"]
                          + [f"${_tex(c.name)}$" for c in group.classes])
        body = [" & ".join([f"${_tex(i.name)}$"] + [str(x) for x in i.characters]) + r" \\"
                for i in group.irreps]
        return "\n".join([rf"\begin{{tabular}}{{{cols}}}", r"\hline", head + r" \\",
                          r"\hline", *body, r"\hline", r"\end{tabular}"])

    def as_dict(self) -> dict:
        group = self.group
        irreps = group.irreps
        return {
            "name": group.name,
            "order": group.order,
            "classes": [{"name": c.name, "size": c.size} for c in group.classes],
            "irreps": [{"name": i.name, "dim": i.dim, "complex_pair": i.complex_pair,
                        "characters": list(i.characters),
                        "functions": [str(f) for f in i.basis_functions]} for i in irreps],
            "products": {f"{a.name}x{b.name}": group.product(a, b)
                         for n, a in enumerate(irreps) for b in irreps[n:]},
        }

    def product_table(self) -> str:
        """Upper-triangular table of a⊗b decompositions (paper's Table II)."""
        irreps = self.group.irreps
        names = [i.name for i in irreps]
        cells = [[""] + names]
        for n, a in enumerate(irreps):
            cells.append([a.name] + ["" if m < n else format_sum(self.group.product(a, b))
                                     for m, b in enumerate(irreps)])
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                         for row in cells)


def _tex(name: str) -> str:
    """Mulliken / class names in LaTeX: A1g → A_{1g}, 2C2' → 2C_2', σv → \\sigma_v."""
    return mulliken(name)
