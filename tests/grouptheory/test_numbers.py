"""The restricted parser of numbers and invariant expressions: text is never run as code."""

import json
from fractions import Fraction

import pytest
import sympy as sp

from grouptheory import GroupTheoryError, Lattice, LatticeError, numbers
from grouptheory.descriptors.spec import (
    DescriptorSpec,
    build_descriptor,
    classes,
    content_hash,
    parse_expressions,
)

ATTACK = "__import__('os').system('touch pwned')"
HOSTILE = {
    ATTACK: "the only call allowed is sqrt",
    "().__class__": "attribute access is not allowed",
    "sqrt.__globals__": "attribute access is not allowed",
    "__builtins__": "the name '__builtins__' is not allowed",
    "lambda: 1": "a lambda is not allowed",
    "[1]": "the syntax List is not allowed",
    "(1,)[0]": "a subscript is not allowed",
    "[x for x in (1, 2)]": "the syntax ListComp is not allowed",
    "'1'": "the literal '1' is not a real number",
    "True": "the literal True is not a real number",
    "1 if 1 else 2": "a conditional expression is not allowed",
    "9**9**9": "an exponent must be an integer or a fraction",
    "2**100000": "at most 64",
    "((2**8)**8)**8": "the exponents multiply to more than 64",
    "exp(1)": "the only call allowed is sqrt",
    "sqrt(1, 2)": "the only call allowed is sqrt",
    "sqrt(x=1)": "the only call allowed is sqrt",
    "sqrt(-3)": "sqrt of a negative number",
    "1/0": "division by zero",
    "1 +": "does not parse",
    "1" * 201: "longer than 200 characters",
    "-" * 150 + "1": "nested more than 100 levels",
}


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("convert", [numbers.to_sympy, numbers.to_float])
def test_hostile_numbers_are_refused_clearly(text, convert):
    with pytest.raises(GroupTheoryError) as error:
        convert(text)
    message = str(error.value)
    assert HOSTILE[text] in message
    assert repr(text[:57])[:-1] in message and "allowed: int and decimal literals" in message


def test_floats_that_overflow_are_refused():
    for text in ("1e999", "(1e10)**64", "2**60 * 1e300"):
        with pytest.raises(GroupTheoryError, match="not finite|overflows"):
            numbers.to_float(text)


def test_the_import_attack_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LatticeError, match=r"vector 0: .* is not a real number"):
        Lattice([[ATTACK, 0], [0, 1]])
    with pytest.raises(LatticeError, match=r"basis site 0: .* is not a real number"):
        Lattice([[1, 0], [0, 1]], basis=[(ATTACK, 0)])
    assert not (tmp_path / "pwned").exists()


VALID = {"1/2": sp.Rational(1, 2), "sqrt(3)/2": sp.sqrt(3) / 2, "-1/3": sp.Rational(-1, 3),
         "+2*(1 - 1/4)": sp.Rational(3, 2), "(1/2)**(3/2)": sp.sqrt(2) / 4,
         "2**-2": sp.Rational(1, 4), "sqrt(12)": 2 * sp.sqrt(3), "0.25": sp.Float("0.25")}


@pytest.mark.parametrize("text", VALID)
def test_valid_numbers_exactly_and_as_floats(text):
    assert numbers.to_sympy(text) == VALID[text] == sp.sympify(text)
    assert numbers.to_float(text) == pytest.approx(float(VALID[text]), rel=1e-15)


def test_numbers_that_are_not_text():
    assert numbers.to_sympy(Fraction(-1, 3)) == sp.Rational(-1, 3)
    assert numbers.to_sympy(3) == 3 and numbers.to_sympy(0.5) == sp.Float(0.5)
    assert numbers.to_sympy(sp.sqrt(2)) == sp.sqrt(2)
    assert numbers.to_float(Fraction(1, 4)) == 0.25
    for bad in (True, None, [1]):
        with pytest.raises(GroupTheoryError, match="is not a real number"):
            numbers.to_sympy(bad)
        with pytest.raises(GroupTheoryError, match="is not a real number"):
            numbers.to_float(bad)


def test_lattices_from_text_fractions_and_floats_agree():
    expected = Lattice.honeycomb()
    for vectors, basis in [
        ([[1, 0], ["1/2", "sqrt(3)/2"]], [(0, 0), ("1/3", "1/3")]),
        ([[1, 0], [0.5, 0.8660254037844386]], [(0, 0), (Fraction(1, 3), Fraction(1, 3))]),
    ]:
        lattice = Lattice(vectors, basis)
        assert lattice.vectors == expected.vectors and lattice.basis == expected.basis


HOSTILE_EXPRESSIONS = {
    ATTACK: "the only call allowed is sqrt",
    "y0.__class__": "attribute access is not allowed",
    "y0 + x": "the name 'x' is not allowed",
    "y0 + y9": "y9 is not among the stencil outputs y0 … y3",
    "y0**y1": "an exponent must be an integer or a fraction",
    "Abs(y0)": "the only call allowed is sqrt",
    "(y0**2)**(2**8)": "an exponent must be an integer or a fraction",
    "y0 + " * 25_000 + "y1": "longer than 100000 characters",
}


@pytest.mark.parametrize("text", HOSTILE_EXPRESSIONS)
def test_hostile_expressions_are_refused_clearly(text):
    with pytest.raises(GroupTheoryError, match="allowed: the symbols y0 … y3") as error:
        numbers.to_expression(text, 4)
    assert HOSTILE_EXPRESSIONS[text] in str(error.value)


def test_expressions_are_built_exactly_as_sympify_would():
    text = "-sqrt(2)*y0*y1**2/(y0**2 + y1**2 + 1/100)**(3/2) + y2*(y3 - 1)/2"
    symbols = {f"y{k}": sp.Symbol(f"y{k}", real=True) for k in range(4)}
    assert sp.srepr(numbers.to_expression(text, 4)) == sp.srepr(sp.sympify(text,
                                                                             locals=symbols))


def _resealed(spec, change):
    """The spec's JSON after `change(data)`, with the hash recomputed (a forged spec)."""
    data = json.loads(spec.to_json())
    change(data)
    data["hash"] = content_hash(data)
    return json.dumps(data)


def test_a_forged_spec_is_never_evaluated(tmp_path, monkeypatch):
    from codegen.generate import render

    monkeypatch.chdir(tmp_path)
    spec = build_descriptor("square", "scalar", "power", shells=2)

    def inject(data):
        data["expressions"][0] = ATTACK

    forged = DescriptorSpec.from_json(_resealed(spec, inject))  # the hash alone cannot tell
    with pytest.raises(GroupTheoryError, match="invariant expression .* is refused"):
        parse_expressions(forged)

    def inject_tap(data):
        data["stencil"]["taps"][0][0][3] = ATTACK

    with pytest.raises(GroupTheoryError, match="is not a real number"):
        render(DescriptorSpec.from_json(_resealed(spec, inject_tap)))
    assert not (tmp_path / "pwned").exists()


def test_a_spec_without_its_hash_is_refused():
    data = json.loads(build_descriptor("square", "scalar", "power", shells=2).to_json())
    del data["hash"]
    with pytest.raises(GroupTheoryError, match="has no hash"):
        DescriptorSpec.from_json(json.dumps(data))


def test_every_committed_spec_parses_as_sympify_parses_it():
    """The catalog is trusted data: the restricted parser must rebuild exactly the sympy
    objects sympify builds from its expressions, tap coefficients and weights."""
    from codegen import catalog

    for spec in (part for name in catalog.CATALOG for part in classes(catalog.spec(name))):
        name = spec.name
        n = len(spec.data["stencil"]["outputs"])
        symbols = {f"y{k}": sp.Symbol(f"y{k}", real=True) for k in range(n)}
        expected = [None if e is None else sp.sympify(e, locals=symbols)
                    for e in spec.data["expressions"]]
        assert parse_expressions(spec) == expected, name
        texts = [tap[3] for taps in spec.data["stencil"]["taps"] for tap in taps]
        texts += [w for row in (spec.data["special"] or {}).get("weights", []) for w in row]
        assert [sp.srepr(numbers.to_sympy(t)) for t in texts] == \
            [sp.srepr(sp.sympify(t)) for t in texts], name
