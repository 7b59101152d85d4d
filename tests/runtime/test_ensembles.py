"""Occupations and energies of the two ensembles."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.electrons.ensembles import FixedFilling, GrandCanonical, ensemble


def levels(*values):
    return torch.tensor([values], dtype=torch.float64)


def test_fixed_filling_fills_the_lowest_levels():
    occupations, energy = FixedFilling(2).occupy(levels(-2.0, -0.5, 0.3, 1.0))
    assert occupations.tolist() == [[1, 1, 0, 0]]
    assert energy.item() == pytest.approx(-2.5)


def test_degenerate_fermi_shell_is_shared_equally():
    occupations, energy = FixedFilling(2).occupy(levels(-1.0, 0.0, 0.0, 1e-13, 1.0))
    np.testing.assert_allclose(occupations[0], [1, 1 / 3, 1 / 3, 1 / 3, 0])
    assert energy.item() == pytest.approx(-1.0)


@settings(max_examples=60, deadline=None)
@given(
    shells=st.lists(
        st.tuples(st.integers(-50, 50), st.integers(1, 4)),
        min_size=2,
        max_size=12,
        unique_by=lambda s: s[0],
    ),
    data=st.data(),
)
def test_fixed_filling_properties(shells, data):
    """Random spectra with degenerate shells: N electrons in total, 0 <= occ <= 1, equal
    occupation within a shell, and the energy of the N lowest levels."""
    values = sorted(v / 7 for v, g in shells for _ in range(g))
    n = data.draw(st.integers(1, len(values) - 1))
    eps = torch.tensor([values], dtype=torch.float64)
    occupations, energy = FixedFilling(n).occupy(eps)
    assert occupations.sum().item() == pytest.approx(n)
    assert ((occupations >= 0) & (occupations <= 1)).all()
    for v in set(values):
        assert occupations[eps == v].unique().numel() == 1
    assert energy.item() == pytest.approx(sum(values[:n]), abs=1e-12)


def test_number_of_electrons_from_filling():
    assert FixedFilling.from_filling(0.5, 36).electrons == 18
    assert FixedFilling.from_filling(0.3, 10).electrons == 3
    assert FixedFilling.from_filling(0.25, 2 * 18).electrons == 9


def test_grand_canonical_is_fermi_dirac():
    eps = levels(-1.0, 0.0, 0.5, 2.0)
    occupations, omega = GrandCanonical(mu=0.5, temperature=0.2).occupy(eps)
    expected = 1 / (np.exp((eps[0].numpy() - 0.5) / 0.2) + 1)
    np.testing.assert_allclose(occupations[0], expected)
    expected_omega = -0.2 * np.log1p(np.exp(-(eps[0].numpy() - 0.5) / 0.2)).sum()
    assert omega.item() == pytest.approx(expected_omega)


def test_grand_potential_derivative_is_minus_the_electron_number():
    eps = torch.linspace(-3, 3, 40, dtype=torch.float64)[None] ** 3 / 9
    h, temperature = 1e-5, 0.3

    def omega(mu):
        return GrandCanonical(mu, temperature).occupy(eps)[1].item()

    occupations, _ = GrandCanonical(0.2, temperature).occupy(eps)
    derivative = (omega(0.2 + h) - omega(0.2 - h)) / (2 * h)
    assert derivative == pytest.approx(-occupations.sum().item(), abs=1e-8)


def test_zero_temperature_limit():
    eps = levels(-1.0, 0.0, 0.25, 1.0)
    cold, omega_cold = GrandCanonical(0.25, 1e-4).occupy(eps)
    zero, omega_zero = GrandCanonical(0.25, 0.0).occupy(eps)
    assert zero.tolist() == [[1, 1, 0.5, 0]]
    np.testing.assert_allclose(cold, zero, atol=1e-12)
    assert omega_zero.item() == pytest.approx(-1.25 - 0.25)
    assert omega_cold.item() == pytest.approx(omega_zero.item(), abs=1e-4)


def test_no_overflow_at_low_temperature():
    occupations, omega = GrandCanonical(0.0, 1e-6).occupy(levels(-5.0, 5.0))
    assert torch.isfinite(omega).all()
    assert occupations.tolist() == [[1.0, 0.0]]
    assert omega.item() == pytest.approx(-5.0)


def test_ensemble_factory():
    assert ensemble(10) == FixedFilling(5)
    assert ensemble(10, filling=0.3) == FixedFilling(3)
    assert ensemble(10, mu=0.1, temperature=0.0) == GrandCanonical(0.1, 0.0)


@pytest.mark.parametrize("filling", [0.0, 1.0, -0.2, 1.5, math.nan, math.inf])
def test_filling_outside_the_open_unit_interval(filling):
    with pytest.raises(ValueError, match="filling must"):
        ensemble(10, filling=filling)


def test_filling_that_empties_the_band():
    with pytest.raises(ValueError, match="0 electrons on 10 states"):
        ensemble(10, filling=0.01)


@pytest.mark.parametrize(
    ("keywords", "error", "message"),
    [
        ({"mu": 0.0, "temperature": -0.1}, ValueError, "temperature must be >= 0"),
        ({"mu": math.nan, "temperature": 0.1}, ValueError, "mu must be finite"),
        ({"temperature": 0.1}, ValueError, "needs both mu and temperature"),
        ({"mu": 0.1}, ValueError, "needs both mu and temperature"),
        ({"filling": 0.5, "mu": 0.0, "temperature": 0.1}, ValueError, "not both"),
        ({"filling": "0.5"}, TypeError, "filling must be a real number"),
        ({"mu": 1j, "temperature": 0.1}, TypeError, "mu must be a real number"),
    ],
)
def test_bad_ensemble_keywords(keywords, error, message):
    with pytest.raises(error, match=message):
        ensemble(10, **keywords)
