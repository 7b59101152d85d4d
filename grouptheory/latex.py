"""LaTeX document fragments of the symbolic output (`latticeff inspect … --latex`): plain
LaTeX2e (no packages), for `\\input` into any document that `pdflatex` compiles.

    symbol_names(symbols)     # {Q[-1,0|1]: "Q^{(1)}_{-1,0}", p[0,0;1,0]: "p_{(0,0),(1,0)}", …}
    decomposition_latex(result, header)   # the IR coefficients f^{(Γ,r)}_μ, block by block
"""

from __future__ import annotations

import re

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "⊕": r"$\oplus$", "⊗": r"$\otimes$", "²": r"$^2$"}


def text(value: str) -> str:
    """`value` as LaTeX text: special characters escaped, ⊕ and friends as math."""
    return "".join(_SPECIAL.get(c, c) for c in str(value))


def mulliken(name: str) -> str:
    """An irrep or class name in math mode: A1g → A_{1g}, 2C2' → 2C_{2}^{\\prime},
    σv → \\sigma_v."""
    name = name.replace("σ", r"\sigma_").replace("ε", r"\epsilon")
    name = re.sub(r"([A-Z])(\d*)([gu]?)", lambda m: m.group(1) + (
        f"_{{{m.group(2)}{m.group(3)}}}" if m.group(2) or m.group(3) else ""), name)
    return name.replace("''", "^{\\prime\\prime}").replace("'", "^{\\prime}")


def group_name(name: str) -> str:
    """A Schoenflies symbol in math mode: Oh → O_{h}, D4h → D_{4h}, C3v → C_{3v}."""
    return name[0] + (f"_{{{name[1:]}}}" if len(name) > 1 else "")


def _label(label: str) -> str:
    """A site label "c1,c2" or "c1,c2|s" → subscript cell, superscript (sublattice)."""
    cell, _, sublattice = label.partition("|")
    return cell, sublattice


def _component(base: str) -> str:
    """Qx → Q^{x}; Q, p, b unchanged."""
    match = re.fullmatch(r"([A-Za-z])([A-Za-z0-9]+)", base)
    return f"{match.group(1)}^{{{match.group(2)}}}" if match else base


def symbol_name(name: str) -> str:
    """LaTeX of one entry symbol: Q[-1,0|1] → Q^{(1)}_{-1,0}, Qx[0,0,0] → Q^{x}_{0,0,0},
    p[0,0;1,0] → p_{(0,0),(1,0)} (a bond), b[…;…;…] → b_{(…),(…),(…)} (a chirality)."""
    match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", name)
    if not match:
        return name
    base, inside = match.groups()
    labels = [_label(part) for part in inside.split(";")]
    if len(labels) == 1:
        cell, sublattice = labels[0]
        sub = f"{{{cell}}}"
        head = _component(base)
        if sublattice:
            head = (head[:-1] + f",({sublattice})}}" if head.endswith("}") else
                    f"{head}^{{({sublattice})}}")
        return f"{head}_{sub}"
    cells = ",".join(f"({c}" + (f"|{s}" if s else "") + ")" for c, s in labels)
    return f"{_component(base)}_{{{cells}}}"


def symbol_names(symbols) -> dict:
    """{symbol: LaTeX name} for sympy's `latex(..., symbol_names=…)`."""
    return {s: symbol_name(s.name) for s in symbols}


def decomposition_latex(result, header: str) -> str:
    """The fragment of `inspect decompose --latex`: a text header, then per block its
    decomposition and its IR coefficients as inline equations (TeX breaks them after + and -),
    then the building blocks of a spin field and the total decomposition."""
    import sympy as sp

    names = symbol_names(result.symbols)
    if result.field.internal:
        for expression in result.building_block_expressions().values():
            names.update(symbol_names(expression.free_symbols - set(names)))

    def latex(expression) -> str:
        return sp.latex(expression, symbol_names=names)

    def total(content: dict) -> str:
        return r" \oplus ".join(f"{m if m > 1 else ''}{mulliken(n)}"
                                for n, m in content.items())

    lines = [f"% latticeff inspect decompose: {header}".replace("\n", " "),
             r"\noindent " + text(header) + r"\par", ""]
    expressions = result.expressions()
    hood = result.neighborhood
    for b, block in enumerate(result.blocks):
        shell = hood.sites[result.entries[block.entries[0]].sites[-1]].shell
        lines += [r"\medskip\noindent Block " + f"{b + 1} ({text(block.kind)}, shell {shell}): "
                  f"${len(block.entries)} = {total(block.content)}$\\par"]
        for c in result.coefficients:
            if c.block != b:
                continue
            exprs = expressions[c.irrep, c.copy]
            for mu, expr in enumerate(exprs):
                index = f"_{{{mu + 1}}}" if len(exprs) > 1 else ""
                lines.append(rf"\noindent $f^{{({mulliken(c.irrep)},{c.copy})}}{index} = "
                             rf"{latex(expr)}$\par")
        lines.append("")
    if result.field.internal:
        lines.append(r"\medskip\noindent Building blocks:\par")
        for symbol, expression in result.building_block_expressions().items():
            lines.append(rf"\noindent ${latex(symbol)} = {latex(expression)}$\par")
        lines.append("")
    lines.append(rf"\medskip\noindent ${result.dimension} = {total(result.multiplicities)}$\par")
    return "\n".join(lines)
