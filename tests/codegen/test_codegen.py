"""Code generation: printers, the form of the generated code, safe writing, the CLI and the
drift check."""

import json
import os
import re
from pathlib import Path

import pytest
import sympy as sp

import generated
from codegen import catalog
from codegen.generate import GenerateError, check_name, render, write
from codegen.lean import classes, split
from codegen.printers import KernelPrinter, LeanPrinter, statements, weight_groups, with_rsqrt
from generated._spec import content_hash
from grouptheory import build_descriptor
from runtime.app.cli import main

GENERATED = Path(generated.__file__).resolve().parent
HOSTILE = ["../../x", "a/b", 'x"""\nimport os\n"""', "_private", "class", "1abc", "a-b", "a b",
           "", "é\u2028"]


@pytest.fixture(scope="module")
def tiny():
    return build_descriptor("square", "scalar", "power", shells=2, name="tiny_power")


def test_printers_fold_constants_and_avoid_pow():
    x, y = sp.symbols("x y", real=True)
    p = KernelPrinter()
    assert p.line(x**2 * sp.sqrt(2)) == ("1.4142135623730951*(x*x)",
                                         "1.4142135623730951 = sqrt(2)")
    assert p.line(sp.sqrt(2) * x * y / 4) == ("0.3535533905932738*x*y",
                                              "0.3535533905932738 = sqrt(2)/4")
    assert p.line(x / 2) == ("0.5*x", "")  # exact literals need no comment
    assert p.line(1 / sp.sqrt(x**2 + y**2))[0] == "1.0/((x*x) + (y*y)).sqrt()"
    assert "**" not in p.doprint((x + 1) ** sp.Rational(-3, 2))
    lines, _ = statements([sp.sqrt(2) * x + sp.sqrt(2) * y, sp.sqrt(2) * x * y])
    assert not any(re.fullmatch(r"\s*t\d+ = [0-9.e-]+", line) for line in lines)


def test_lean_printer_shares_one_rsqrt_per_base():
    x, y = sp.symbols("x y", real=True)
    p = LeanPrinter()
    assert p.line(x / sp.sqrt(x**2 + 1))[0] == "x*((x*x) + 1.0).rsqrt()"
    assert p.line(1 / (x + y))[0] == "(x + y).reciprocal()"
    lines, results = statements([with_rsqrt(x / sp.sqrt(y + 1)),
                                 with_rsqrt(x / (y + 1) ** sp.Rational(3, 2))],
                                printer=LeanPrinter)
    assert sum(line.count("rsqrt") for line in lines + [t for t, _ in results]) == 1


def test_lean_groups_split_narrow_slots_into_classes():
    """A slot reading one output per class of members (a reference IR shared by the copies
    r) is narrow; the expression splits into wide × narrow factors unless one mixes them."""
    assert classes([[16, 17, 18, 19], [89, 89, 90, 90]]) == ({1}, [0, 0, 1, 1])
    assert classes([[16, 17], [92, 92], [93, 93]]) == ({1, 2}, [0, 0])
    assert classes([[16, 17], [18, 19]]) == (set(), [0, 1])
    a0, a1 = sp.symbols("a0 a1", real=True)
    c = sp.Rational(1, 100)
    assert split(a0 * a1 / sp.sqrt(a1**2 + c), {a1}) == {a0: a1 / sp.sqrt(a1**2 + c)}
    assert split(a0 / sp.sqrt(a0**2 + a1**2), {a1}) is None


def test_weights_are_grouped_by_exact_magnitude():
    assert weight_groups([("1/2", "a"), ("-1/2", "b"), ("1/2", "c"), ("-1/2", "d")]) == \
        ([("0.5", ["a", "c"], ["b", "d"])], "")
    assert weight_groups([("1/4", "b"), ("1", "a"), ("0", "c")]) == \
        ([("1.0", ["a"], []), ("0.25", ["b"], [])], "")
    assert weight_groups([("-sqrt(2)/4", "a")]) == \
        ([("0.3535533905932738", [], ["a"])], "0.3535533905932738 = sqrt(2)/4")


def _row(module, k):
    """{offset: weight} of output k of a square scalar stencil module."""
    taps = module.LEAN_TAPS[0]
    return {taps[t][1]: sign * value for value, *sides in module.LEAN_WEIGHTS[0][k]
            for sign, ts in zip((1, -1), sides) for t in ts}


def test_square_scalar_blocks_read_like_eqs_66_67():
    """The IR blocks of the 4- and 8-site shells (eqs. 66, 67) as rows of the stencil matrix,
    taps named by their offsets, exact coefficients in the comments, in one module shared by
    the decomposition's descriptors."""
    module = generated.load("square_scalar_power").stencils[0]
    for name in ("square_scalar_raw", "square_scalar_bispectrum", "square_scalar_reference"):
        assert generated.load(name).stencils[0] is module
    k = {name: k for k, name in enumerate(module.OUTPUTS)}
    assert _row(module, k["f(A1,2)"]) == {o: 0.5 for o in [(-1, 0), (0, -1), (0, 1), (1, 0)]}
    assert _row(module, k["f(B1,1)"]) == {(-1, 0): 0.5, (1, 0): 0.5, (0, -1): -0.5,
                                          (0, 1): -0.5}
    a2 = _row(module, k["f(A2,1)"])  # the 8-site shell (±1, ±2), (±2, ±1)
    assert sorted(map(abs, a2.values())) == [2 ** 0.5 / 4] * 8
    assert all(sorted(map(abs, o)) == [1, 2] for o in a2)
    assert sorted(a2.values()) == sorted(-v for v in a2.values()) and a2[(1, 2)] == -a2[(2, 1)]
    text = Path(module.__file__).read_text()
    assert re.search(r"  # y\d+ = f\(A2,1\); 0\.3535533905932738 = sqrt\(2\)/4\n", text)


def test_generated_code_names_the_papers_equations():
    for name, equations in [("square_scalar_power", "eqs. 23, 34"),
                            ("square_scalar_bispectrum", "eq. 33"),
                            ("square_scalar_reference", "eqs. 70–84"),
                            ("square_spin_phase", "Sec. VI"),
                            ("square_scalar_corrmatrix", "eqs. 14, 65"),
                            ("square_spin_acsf", "eqs. 53–57, 95–97")]:
        d = generated.load(name)
        assert equations in d.module.__doc__
        assert "eqs. 18, 38, 48" in d.stencils[0].__doc__ or name.endswith(("acsf", "matrix"))
    spin = generated.load("square_spin_phase").stencils[0].__doc__
    assert "eq. 93" in spin and "eq. 94" in spin


def test_embedded_spec_hashes_like_grouptheory(tiny):
    files = render(tiny)
    text = files["tiny_power.py"]
    embedded = json.loads(eval(re.search(r"^SPEC_JSON = (.*)$", text, re.MULTILINE).group(1)))
    assert embedded == json.loads(json.dumps(tiny.data))
    assert content_hash(embedded) == tiny.hash
    assert f'SPEC_HASH = "{tiny.hash}"' in text
    assert any(path.startswith("stencils/") for path in files)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_before_anything_is_written(name, tmp_path, tiny):
    with pytest.raises(GenerateError, match="must be a Python identifier"):
        check_name(name)
    hostile = type(tiny)({**tiny.data, "name": name})
    with pytest.raises(GenerateError):
        write(hostile, tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_cli_refuses_a_path_as_name_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--lattice", "square", "--field", "scalar", "--descriptor",
                 "power", "--name", "../../x", "--output", str(out)]) == 2
    assert "must be a Python identifier" in capsys.readouterr().err
    assert list(tmp_path.rglob("*")) == []


def test_a_module_of_another_hash_is_replaced_only_with_force(tmp_path, tiny):
    path = write(tiny, tmp_path)
    before = path.read_text()
    assert write(tiny, tmp_path) == path  # the same spec: rewriting is harmless
    other = build_descriptor("square", "scalar", "power", shells=1, name="tiny_power")
    with pytest.raises(GenerateError, match="another spec .* --force"):
        write(other, tmp_path)
    assert path.read_text() == before
    write(other, tmp_path, force=True)
    assert f'SPEC_HASH = "{other.hash}"' in path.read_text()
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_failed_write_leaves_the_old_module_and_no_temporary(tmp_path, tiny, monkeypatch):
    other = build_descriptor("square", "scalar", "power", shells=1, name="tiny_power")
    path = write(other, tmp_path)
    before = path.read_text()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write(tiny, tmp_path, force=True)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == \
        sorted(p.name for p in tmp_path.rglob("*.py"))


def test_default_names_carry_a_size_other_than_the_catalogs():
    assert catalog.default_name("honeycomb", "scalar", "reference", 4) == \
        "honeycomb_scalar_reference"
    assert catalog.default_name("honeycomb", "scalar", "reference", 2) == \
        "honeycomb_scalar_reference_s2"
    assert catalog.default_name("square", "scalar", "power", cutoff=2.5) == \
        "square_scalar_power_r2p5"
    assert catalog.default_name("square", "vector", "power", 2) == "square_vector_power_s2"


def test_generate_cli_writes_an_importable_module_and_says_what_it_made(tmp_path, capsys):
    assert main(["generate", "--lattice", "square", "--field", "scalar", "--shells", "2",
                 "--descriptor", "power", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "square_scalar_power_s2.py"  # not the committed 14-shell module's name
    assert str(path) in out
    for fact in ("9 sites (2 shells), dim U = 9", "smallest lattice 3 × 3 cells",
                 "7 features", "Jacobian rank 7 of dim U = 9", "the paper's 14"):
        assert fact in out
    d = generated.load_file(path)
    assert d.n_features == 7 and d.family == "power" and "dim U = 9" in d.module.__doc__
    assert main(["generate", "--lattice", "square", "--field", "scalar"]) == 2
    assert "give --lattice, --field and --descriptor" in capsys.readouterr().err


def test_check_reports_progress_per_module(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(catalog, "CATALOG", {k: catalog.CATALOG[k] for k in
                                             ("square_scalar_power", "square_spin_phase")})
    lines = []
    assert catalog.check(tmp_path, report=lines.append) == ["square_scalar_power",
                                                            "square_spin_phase"]
    assert [re.sub(r"\(.*\)", "", line) for line in lines] == [
        "[1/2] square_scalar_power: STALE ", "[2/2] square_spin_phase: STALE "]
    assert main(["generate", "--check"]) == 0
    assert re.findall(r"\[\d/2\] \w+: ok \(\d+\.\d s\)", capsys.readouterr().out) != []


@pytest.mark.slow
def test_committed_catalog_matches_its_specs():
    """`latticeff generate --check`: regenerating every catalog module changes nothing, each
    catalog entry has a module of its spec's hash, and every module is a catalog entry."""
    assert catalog.check() == []
    assert generated.available() == sorted(catalog.CATALOG)
    for name in catalog.CATALOG:
        spec = catalog.spec(name)
        assert generated.load(name).hash == spec.hash == content_hash(spec.data)


def test_drift_is_detected(tmp_path):
    (tmp_path / "square_scalar_power.py").write_text("# edited by hand\n")
    assert "square_scalar_power" in catalog.check(tmp_path)


def test_cli_generates_the_hexagonal_doublet_and_refuses_the_cubic_one(tmp_path, capsys):
    """On D6 sites the e_g doublet (x²−y², 3z²−r²) is no representation; (x²−y², 2xy) is."""
    args = ["generate", "--lattice", "honeycomb", "--descriptor", "power", "--shells", "1",
            "--output", str(tmp_path)]
    assert main([*args, "--field", "jahn_teller", "--name", "cubic_doublet"]) == 2
    assert "representation" in capsys.readouterr().err
    assert not (tmp_path / "cubic_doublet.py").exists()
    assert main([*args, "--field", "quadrupole", "--name", "hex_doublet"]) == 0
    assert (tmp_path / "hex_doublet.py").exists()
