"""sympy → Python source for torch and for Triton (`tl`) expressions.

Numbers are printed as float literals (cast once, here); integer and half-integer powers
become products with at most one sqrt, so the generated code has no pow calls.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from grouptheory import numbers


class TorchPrinter(PythonCodePrinter):
    sqrt = "torch.sqrt"

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Basic) and expr.is_number:
            return repr(float(expr))  # constants folded to float literals
        return super()._print(expr, **kwargs)

    def _print_Pow(self, expr):
        base, exp = expr.as_base_exp()
        b = self.parenthesize(base, 1000)
        if not exp.is_Rational or exp.q not in (1, 2) or abs(exp.p) > 12:
            raise NotImplementedError(f"power {expr} is not supported by the kernel printers")
        whole = abs(exp.p) // exp.q
        factors = [b] * whole
        if exp.q == 2:
            factors.append(f"{self.sqrt}({self._print(base)})")
        product = "*".join(factors)
        return f"({product})" if exp > 0 else f"(1.0/({product}))"


class TritonPrinter(TorchPrinter):
    sqrt = "tl.sqrt"


def statements(exprs, printer, prefix: str = "t", indent: str = "    "):
    """Common-subexpression-eliminated assignments and the printed results."""
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(prefix), optimizations=None)
    # numbers stay inline: Triton types a bare Python float as fp32, but an inline literal
    # takes the dtype of the tensor it meets
    constants, kept = {}, []
    for sym, value in replacements:
        value = value.subs(constants)
        if value.is_number:
            constants[sym] = value
        else:
            kept.append((sym, value))
    replacements, reduced = kept, [e.subs(constants) for e in reduced]
    lines = [f"{indent}{sym} = {printer.doprint(value)}" for sym, value in replacements]
    return lines, [printer.doprint(e) for e in reduced]


def balanced(items: list[str], joiner: str = " + ") -> str:
    """a + b + … as a balanced tree of parentheses once long: generated expressions stay
    shallow (Python's parser and Triton's interpreter recurse on expression depth)."""
    if len(items) <= 16:
        return joiner.join(items)
    half = len(items) // 2
    return f"({balanced(items[:half], joiner)}){joiner}({balanced(items[half:], joiner)})"


def grouped_sum(terms, printer) -> str:
    """Σ c·v as c1*(v_a + v_b - v_c) + c2*(…): one multiplication per distinct |c|."""
    groups: dict = {}
    for value, name in terms:
        value = numbers.to_sympy(value)
        groups.setdefault(abs(value), []).append(("-" if value < 0 else "+", name))
    parts = []
    for magnitude, items in sorted(groups.items(), key=lambda kv: -float(kv[0])):
        signed = [("-" if sign == "-" else "") + name for sign, name in items]
        body = balanced(signed).replace("+ -", "- ")
        parts.append(body if magnitude == 1 else f"{printer.doprint(magnitude)}*({body})")
    return balanced(parts) if parts else "0.0"


def stencil_lines(taps, outputs, fetch, printer, prefix: str, comments: bool = False):
    """Assignments of the stencil outputs y_k = Σ c·value(channel, offset): each distinct
    (channel, offset) value is fetched once by `fetch(channel, offset)` (an expression)."""
    values, lines, per_output = {}, [], {}
    for k, c, o, v in taps:
        key = (c, tuple(o))
        if key not in values:
            values[key] = f"{prefix}{len(values)}"
            lines.append(f"    {values[key]} = {fetch(c, tuple(o))}")
        per_output.setdefault(k, []).append((v, values[key]))
    for k, name in enumerate(outputs):
        comment = f"  # {name}" if comments else ""
        lines.append(f"    y{k} = {grouped_sum(per_output.get(k, []), printer)}{comment}")
    return lines
