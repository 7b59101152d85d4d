"""Features that are exact multiples of others are dropped once, in the spec, with the
Jacobian rank unchanged: every path (torch, lean, Triton) reads the same shorter list."""

import sympy as sp
import torch

import generated
from codegen.generate import write
from grouptheory import build_descriptor
from grouptheory.descriptors import invariants
from grouptheory.descriptors.spec import parse_expressions


def _all_features(monkeypatch, *args, **kwargs):
    """The spec as it was before duplicates were dropped."""
    with monkeypatch.context() as m:
        m.setattr(invariants, "distinct", lambda features: (features, {}))
        return build_descriptor(*args, **kwargs)


def test_distinct_drops_exact_multiples_only():
    a, b = sp.symbols("y0 y1", real=True)
    e = a / sp.sqrt(a**2 + sp.Rational(1, 100))
    kept, dropped = invariants.distinct([("p", e * b), ("q", e * b / sp.sqrt(2)), ("r", a * b),
                                         ("s", e * b + a * 1e-12), ("t", -2 * a * b)])
    assert [n for n, _ in kept] == ["p", "r", "s"]
    assert dropped == {"q": ("p", sp.sqrt(2) / 2), "t": ("r", -2)}


def test_dropping_keeps_the_jacobian_rank_and_the_information(tmp_path, monkeypatch):
    args = ("square", "scalar", "bispectrum")
    before = _all_features(monkeypatch, *args, shells=3, name="all_features")
    after = build_descriptor(*args, shells=3, name="distinct_features")
    kept, dropped = invariants.distinct(list(zip(before.feature_names,
                                                 parse_expressions(before))))
    assert dropped and after.feature_names == [n for n, _ in kept]
    full = generated.load_file(write(before, tmp_path))
    short = generated.load_file(write(after, tmp_path))
    assert short.n_features == full.n_features - len(dropped)
    assert short.jacobian_rank() == full.jacobian_rank()
    x = torch.randn((1, 5, 5, 1, 1), dtype=torch.float64, generator=torch.Generator()
                    .manual_seed(1))
    values = full(x, backend="torch")
    index = {n: k for k, n in enumerate(full.feature_names)}
    for name, (base, factor) in dropped.items():  # a dropped feature is its multiple
        torch.testing.assert_close(values[..., index[name]],
                                   float(factor) * values[..., index[base]])
    torch.testing.assert_close(short(x, backend="torch"),
                               values[..., [index[n] for n in short.feature_names]])


def test_the_reference_family_keeps_one_of_each_product():
    names = generated.load("square_scalar_reference").feature_names
    assert [n for n in names if n.startswith("b*")] == ["b*(B2;A2,B1)", "b*(E;B1,E)",
                                                         "b*(E;B2,E)"]
