"""sympy → Python source that runs on torch tensors and on Triton (`tl`) tensors alike.

Numbers are cast once, here: every numeric factor of a product is folded into one float
literal printed with `repr` (the shortest text that reads back as the same double), and a
literal that is not exact gets its exact form in a comment (`0.35355339059327379 =
sqrt(2)/4`). Integer and half-integer powers become products with at most one sqrt, so the
generated code has no pow calls; a square root is the method `.sqrt()`, which both tensor
types have, so one printed function serves the torch path and (under `triton.jit`) the kernels.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from grouptheory import numbers


def literal(value: sp.Expr) -> str:
    return repr(float(value))


def exact_note(value: sp.Expr) -> str | None:
    """`literal = exact form` when the float literal is not exactly `value`, else None."""
    value = numbers.to_sympy(value)
    if value.is_Float or sp.Rational(float(value)) == value:
        return None
    return f"{literal(value)} = {sp.sstr(value)}"


class KernelPrinter(PythonCodePrinter):
    def __init__(self):
        super().__init__()
        self.notes: list[str] = []  # exact forms of the inexact literals printed so far

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Basic) and expr.is_number:
            note = exact_note(expr)
            if note and note not in self.notes:
                self.notes.append(note)
            return literal(expr)
        return super()._print(expr, **kwargs)

    def _print_Mul(self, expr):
        coeff = sp.Mul(*[a for a in expr.args if a.is_number])
        rest = [a for a in expr.args if not a.is_number]
        if coeff == 1 or coeff == -1:
            return super()._print_Mul(expr)
        body = self.parenthesize(sp.Mul(*rest), 40)  # one factor: the folded coefficient
        return f"{'-' if coeff < 0 else ''}{self._print(abs(coeff))}*{body}"

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Pow(self, expr):
        base, exp = expr.as_base_exp()
        if not exp.is_Rational or exp.q not in (1, 2) or abs(exp.p) > 12:
            raise NotImplementedError(f"power {expr} is not supported by the kernel printers")
        b = self._print(base) if base.is_Atom else f"({self._print(base)})"
        factors = [b] * (abs(exp.p) // exp.q)
        if exp.q == 2:
            factors.append(f"{b}.sqrt()")
        product = factors[0] if len(factors) == 1 else f"({'*'.join(factors)})"
        return product if exp > 0 else f"(1.0/{product})"

    def line(self, expr) -> tuple[str, str]:
        """(source of `expr` without redundant outer parentheses, comment of exact forms)."""
        self.notes = []
        text = unwrap(self.doprint(expr))
        return text, "; ".join(self.notes)


RSQRT = sp.Function("rsqrt")  # b^(-1/2), kept apart from b's integer powers by `with_rsqrt`


def with_rsqrt(expr: sp.Expr) -> sp.Expr:
    """`expr` with every b^(-p/2) written rsqrt(b)·b^(-(p-1)/2): common-subexpression
    elimination then computes rsqrt(b) once for all the half-integer powers of b."""
    return expr.replace(
        lambda e: e.is_Pow and e.exp.is_Rational and e.exp < 0 and e.exp.q == 2,
        lambda e: RSQRT(e.base) * e.base ** (e.exp + sp.Rational(1, 2)))


class LeanPrinter(KernelPrinter):
    """KernelPrinter for torch tensors only (the lean path): b^(-k/2) as `b.rsqrt()` over
    the integer power, 1/b as `b.reciprocal()` — one op each where `1.0/b.sqrt()` takes
    three (a Python number in an op costs a tensor of it)."""

    def _print_Function(self, expr):
        if expr.func != RSQRT:
            return super()._print_Function(expr)
        base = expr.args[0]
        return f"{self._print(base) if base.is_Atom else f'({self._print(base)})'}.rsqrt()"

    def _print_Pow(self, expr):
        exp = expr.as_base_exp()[1]
        if not (exp.is_Rational and exp < 0):
            return super()._print_Pow(expr)
        return self._quotient([], [expr])

    def _print_Mul(self, expr):
        coeff = sp.Mul(*[a for a in expr.args if a.is_number])
        rest = [a for a in expr.args if not a.is_number]
        up = [a for a in rest if not (a.as_base_exp()[1].is_Rational and
                                      a.as_base_exp()[1] < 0)]
        body = self._quotient(up, [a for a in rest if a not in up])
        sign = "-" if coeff < 0 else ""
        return f"{sign}{body}" if abs(coeff) == 1 else f"{sign}{self._print(abs(coeff))}*{body}"

    def _quotient(self, up, down) -> str:
        """The product of `up` divided by the positive powers of `down` (b^(-p/q))."""
        factors = [self.parenthesize(a, 50) for a in up]
        denominator = []
        for a in down:
            base, exp = a.as_base_exp()
            if exp.q == 2:  # b^(-p/2) = rsqrt(b) / b^((p-1)/2)
                b = self._print(base) if base.is_Atom else f"({self._print(base)})"
                factors.append(f"{b}.rsqrt()")
                exp += sp.Rational(1, 2)
            if exp != 0:
                denominator.append(self.parenthesize(sp.Pow(base, -exp, evaluate=False), 50))
        top = "*".join(factors)
        if not denominator:
            return top
        bottom = denominator[0] if len(denominator) == 1 else f"({'*'.join(denominator)})"
        return f"{top}/{bottom}" if top else f"{bottom}.reciprocal()"


def unwrap(text: str) -> str:
    """`text` without one pair of parentheses enclosing all of it."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1]
    return text


def comment(*notes: str) -> str:
    text = "; ".join(n for n in notes if n)
    return f"  # {text}" if text else ""


def statements(exprs, prefix: str = "t", indent: str = "    ", printer=KernelPrinter):
    """Common-subexpression-eliminated assignments (with exact-form comments) and the
    printed results as (source, comment) pairs, printed by `printer` (a class)."""
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
    printer, lines = printer(), []
    for sym, value in kept:
        text, note = printer.line(value)
        lines.append(f"{indent}{sym} = {text}{comment(note)}")
    return lines, [printer.line(e.subs(constants)) for e in reduced]


def weight_groups(terms) -> tuple[list[tuple[str, list, list]], str]:
    """Σ c·v as c1·(v_a + v_b − v_c) + c2·(…): [(|c|, [v added], [v subtracted]), …], one
    group per distinct nonzero |c|, largest first, members in order (one multiplication per
    group, none for 1); returns (groups, exact forms of the inexact |c|)."""
    groups: dict = {}
    for value, item in terms:
        value = numbers.to_sympy(value)
        if value != 0:
            groups.setdefault(abs(value), ([], []))[bool(value < 0)].append(item)
    order = sorted(groups, key=lambda v: -float(v))
    notes = [exact_note(v) for v in order]
    return [(literal(v), *groups[v]) for v in order], "; ".join(n for n in notes if n)
