"""ML-driven Langevin dynamics of the Holstein model: time per step against lattice size (issue 7).

    python benchmarks/ml_dynamics.py [--sizes 128 256 512] [--backend torch compiled]
                                     [--block-rows 0 32] [--steps 3] [--widths 128 128 64 64 32]

One step = one force evaluation of the force field (descriptor `square_scalar_reference`,
L = 89, with the paper's six-layer network; forces by autograd) plus the elastic force and the
BAOAB update. Prints seconds per step and microseconds per site per step for every size: a
constant per-site cost is linear scaling. --block-rows B > 0 evaluates the forces in blocks of
B rows with halos (`ForceField.block_rows`: bounded memory); 0 is the whole lattice at once.
With --backend compiled the descriptor is fused by torch.compile; its first call per tensor
shape compiles (reported separately, in the first step).
"""

from __future__ import annotations

import argparse
import time

import torch

import generated
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import Langevin
from runtime.electrons.elastic import Elastic
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig


def measure(size: int, backend: str, block_rows: int, steps: int,
            widths) -> tuple[float, float]:
    """(seconds of the first step including init and compilation, mean seconds per step)."""
    torch.manual_seed(0)
    model = ForceField(generated.load("square_scalar_reference"), NetworkConfig(tuple(widths)),
                       backend=backend, block_rows=block_rows)
    forces = TotalForce(model, Elastic("square", (size, size), K0=1.0))
    integrator = Langevin(dt=0.05, mass=1.0, damping=0.5, temperature=0.05)
    field = torch.randn(1, size, size, 1, 1, dtype=torch.float64)
    start = time.perf_counter()
    state = integrator.step(integrator.init(field, forces, seed=1), forces)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        state = integrator.step(state, forces)
    assert torch.isfinite(state.field).all()
    return first, (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--backend", nargs="+", default=["torch", "compiled"],
                        choices=["torch", "compiled"])
    parser.add_argument("--block-rows", type=int, nargs="+", default=[0, 32])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 128, 64, 64, 32])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, "
          f"network widths {args.widths}")
    print(f"{'backend':>9} {'blocks':>6} {'L':>5} {'sites':>8} {'first step s':>13} "
          f"{'s/step':>9} {'us/site/step':>13}")
    for backend in args.backend:
        for block_rows in args.block_rows:
            for size in args.sizes:
                first, per_step = measure(size, backend, block_rows, args.steps, args.widths)
                print(f"{backend:>9} {block_rows:>6} {size:>5} {size * size:>8} {first:>13.2f} "
                      f"{per_step:>9.3f} {1e6 * per_step / size ** 2:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
