"""Energy conservation of exact-force dynamics with noise and damping off (issue 6).

    python benchmarks/energy_drift.py                      # 10 x 10 Holstein, g = 1.5t
    python benchmarks/energy_drift.py --time 400 --dt 0.1 0.05 0.025

`Langevin` with damping = 0 is velocity Verlet on H = sum p^2 / 2 mu + E(Q) + V(Q), E the
exact band energy at half filling (T = 0). The trajectory starts from a random field
(Gaussian, standard deviation 0.5) with Maxwell momenta at T = 0.1. For each dt the script
prints, relative to the potential-energy scale |E + V|: the largest |H(t) - H(0)|, the
standard deviation of H(t) (the fluctuation), and the secular drift (slope of a straight-line
fit times the run length). For a symplectic integrator the fluctuation scales as dt^2 and the
drift stays well below it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from runtime.dynamics.integrators import Langevin
from runtime.electrons import Holstein
from runtime.electrons.forces import ExactForces


def energy_trace(model, dt: float, duration: float, seed: int) -> tuple[np.ndarray, float]:
    """H(t) sampled every step, and the |E + V| scale, for one NVE trajectory."""
    forces = ExactForces(model, filling=0.5)
    field = model.random_field(1, seed=seed, scale=0.5)
    integrator = Langevin(dt=dt, mass=1.0, damping=0.0, temperature=0.1)
    state = integrator.init(field, forces, seed=seed)

    def total(s):
        return float(integrator.kinetic_energy(s)[0] + forces.energy(s.field)[0])

    trace = [total(state)]
    for _ in range(round(duration / dt)):
        state = integrator.step(state, forces)
        trace.append(total(state))
    return np.array(trace), abs(float(forces.energy(state.field)[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--time", type=float, default=200.0, help="run length (units of 1/t)")
    parser.add_argument("--dt", type=float, nargs="+", default=[0.1, 0.05, 0.025])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)

    model = Holstein("square", args.size, g=1.5, K0=1.0)
    print(f"{model}, filling 1/2, mass 1, damping 0, run length {args.time}")
    print(f"{'dt':>7} {'steps':>6} {'max|dH|/|E+V|':>15} {'std H/|E+V|':>13} "
          f"{'drift/|E+V|':>12} {'s':>6}")
    previous = None
    for dt in args.dt:
        start = time.perf_counter()
        trace, scale = energy_trace(model, dt, args.time, args.seed)
        seconds = time.perf_counter() - start
        deviation = trace - trace[0]
        slope = np.polyfit(np.arange(len(trace)) * dt, trace, 1)[0]
        rms = trace.std() / scale
        print(f"{dt:7.4f} {len(trace) - 1:6d} {np.abs(deviation).max() / scale:15.3e} "
              f"{rms:13.3e} {slope * args.time / scale:12.3e} {seconds:6.1f}")
        if previous is not None:
            print(f"        std ratio dt {previous[0]} -> {dt}: {previous[1] / rms:.2f} "
                  f"(dt^2 scaling: {(previous[0] / dt) ** 2:.2f})")
        previous = (dt, rms)
    print(f"|E + V| = {scale:.3f} (units of t) at the end of the last run")

if __name__ == "__main__":
    main()
