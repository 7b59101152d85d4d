"""benchmarks/gpu.py: one line and exit 0 without a GPU, clear errors for bad arguments, and
its dense baseline computes the same features as the torch path."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import generated

_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_BENCHMARKS))  # as when run as `python benchmarks/gpu.py`
_PATH = _BENCHMARKS / "gpu.py"
_SPEC = importlib.util.spec_from_file_location("gpu_benchmark", _PATH)
gpu = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gpu)


def main_output(capsys, argv):
    code = gpu.main(argv)
    out = capsys.readouterr()
    return code, len((out.out + out.err).strip().splitlines())


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(capsys):
    assert main_output(capsys, []) == (0, 1)


@pytest.mark.parametrize("argv, message", [
    (["--name", "../../x"], "not a generated descriptor"),
    (["--name", "square_scalar_corrmatrix"], "no Triton kernels"),
    (["--size", "0"], "--size must be a positive integer"),
    (["--repeats", "-2"], "--repeats must be a positive integer"),
    (["--peak-bandwidth", "nan"], "--peak-bandwidth must be a positive number"),
    (["--peak-bandwidth", "-5"], "--peak-bandwidth must be a positive number"),
])
def test_bad_arguments_are_refused_clearly(argv, message, capsys):
    assert gpu.main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_dense_baseline_equals_the_torch_path():
    d = generated.load("square_scalar_reference")
    x = torch.randn((1, 11, 12, 1, 1), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(2))
    dense = gpu.dense_path(d, (11, 12), "cpu", torch.float64)
    torch.testing.assert_close(dense(x[..., 0, 0]), d(x, backend="torch")[..., 0, :],
                               rtol=1e-12, atol=1e-12)
