"""DescriptorSpec: plain data, JSON round trip, content hash, the families' feature sets."""

import json

import pytest

from grouptheory import (
    DescriptorSpec,
    Field,
    GroupTheoryError,
    Lattice,
    build_descriptor,
    decompose,
)


@pytest.fixture(scope="module")
def spec():
    return build_descriptor("square", "scalar", "reference", shells=2)


def test_json_round_trip_and_hash(spec):
    text = spec.to_json()
    again = DescriptorSpec.from_json(text)
    assert again == spec and again.hash == spec.hash
    assert json.loads(text)["hash"] == spec.hash
    assert spec.n_features == len(spec.feature_names) == len(spec.data["expressions"])


def test_corrupt_spec_is_refused(spec):
    data = json.loads(spec.to_json())
    data["features"][0] = "tampered"
    with pytest.raises(GroupTheoryError, match="does not match its hash"):
        DescriptorSpec.from_json(json.dumps(data))


def test_hash_changes_with_any_content():
    a = build_descriptor("square", "scalar", "reference", shells=2)
    b = build_descriptor("square", "scalar", "reference", shells=2, smoothing=0.2)
    c = build_descriptor("square", "scalar", "reference", shells=3)
    assert len({a.hash, b.hash, c.hash}) == 3


def test_families_and_their_sizes():
    power = build_descriptor("square", "scalar", "power", shells=2)
    cross = build_descriptor("square", "scalar", "power", shells=2, cross=True)
    # one p^{Γ,r} per irrep copy; cross adds p^{Γ,r,r'} for each pair of copies r < r'
    copies = decompose(Lattice.square().neighborhood(shells=2), Field.scalar()).multiplicities
    assert power.n_features == sum(copies.values()) == 7
    assert cross.n_features == sum(m * (m + 1) // 2 for m in copies.values()) == 7 + 3 + 1
    few = build_descriptor("square", "scalar", "bispectrum", shells=2, max_copy=1)
    more = build_descriptor("square", "scalar", "bispectrum", shells=2, max_copy=2)
    assert few.n_features < more.n_features
    phase = build_descriptor("square", Field.spin(), "phase", shells=2)
    assert any(n.startswith("eta(") for n in phase.feature_names)
    corr = build_descriptor("square", "scalar", "corrmatrix", shells=2)
    assert corr.data["special"]["kind"] == "eigvalsh"
    assert corr.n_features == corr.data["neighborhood"]["sites"] == 9  # one λ per site


def test_bad_requests():
    with pytest.raises(GroupTheoryError, match="unknown descriptor family 'fourier'"):
        build_descriptor("square", "scalar", "fourier")
    with pytest.raises(GroupTheoryError, match="unknown field 'tensor'"):
        build_descriptor("square", "tensor", "power")
    with pytest.raises(GroupTheoryError, match="scalar and spin fields"):
        build_descriptor("square", "jahn_teller", "acsf")
