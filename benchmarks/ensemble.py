"""The cost of a force-field ensemble against one of its members, side by side in one run.

    OMP_NUM_THREADS=1 python benchmarks/ensemble.py                      # 100x100, K = 4
    OMP_NUM_THREADS=1 python benchmarks/ensemble.py --size 30 --members 2 4 8 --repeats 5

Model: `square_scalar_reference` (L = 89) with the paper's network 128-128-64-64-32 silu
(untrained: the cost does not depend on the weights), one torch thread. For each precision
(float32, the dynamics default, and float64) it prints, best of --repeats with the calls
interleaved:

  single    one ForceField.energy_and_forces (the baseline)
  mean      Ensemble.energy_and_forces: the force the dynamics steps with (one descriptor
            forward and backward, K networks stacked)
  predict   Ensemble.predict: mean force plus every member's force and the deviation (one
            descriptor backward per member), what a recorded frame costs

and the ratios mean/single and predict/single, and the cost per step of dynamics driven by
member 0 (`Ensemble(drive="first")`) with the deviation on every 10th step (single steps and
one predict per 10). Issue 16 asks for an ensemble of 4 at <= 2x one model.
"""

from __future__ import annotations

import argparse

import torch
from ml_force import best  # the interleaved best-of timing (benchmarks/ml_force.py)

import generated
from runtime.ml.ensemble import Ensemble
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig

WIDTHS = (128, 128, 64, 64, 32)
EVERY = 10  # simulation.measure_every of the last column
NAME = "square_scalar_reference"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--members", type=int, nargs="+", default=[4])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    descriptor = generated.load(NAME)
    field = torch.randn(1, args.size, args.size, 1, 1, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1))
    print(f"{NAME}, network {list(WIDTHS)}, {args.size}x{args.size}, {args.threads} thread(s), "
          f"best of {args.repeats}\n")
    print("| precision | K | single ms | mean ms | predict ms | mean/single | predict/single "
          f"| drive first, measure every {EVERY} / single |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for precision in (torch.float32, torch.float64):
        for k in args.members:
            members = []
            for seed in range(k):
                torch.manual_seed(seed)
                members.append(ForceField(descriptor, NetworkConfig(WIDTHS), dtype=precision))
            ensemble = Ensemble(members, dtype=precision)
            times = best({"single": lambda m=members[0]: m.energy_and_forces(field),
                          "mean": lambda e=ensemble: e.energy_and_forces(field),
                          "predict": lambda e=ensemble: e.predict(field)}, args.repeats)
            step = (times["single"] * (EVERY - 1) + times["predict"]) / EVERY
            print(f"| {str(precision)[6:]} | {k} | {1e3 * times['single']:.1f} | "
                  f"{1e3 * times['mean']:.1f} | {1e3 * times['predict']:.1f} | "
                  f"{times['mean'] / times['single']:.2f} | "
                  f"{times['predict'] / times['single']:.2f} | "
                  f"{step / times['single']:.2f} |")


if __name__ == "__main__":
    main()
