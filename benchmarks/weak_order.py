"""Weak order of the Langevin (BAOAB) and TDGL integrators on configurational averages.

    python benchmarks/weak_order.py                         # BAOAB, damping 0.2
    python benchmarks/weak_order.py --integrator tdgl --dt 0.8 0.56 0.4 0.28

An ensemble of independent pendulums, V(q) = -cos q, at T = 1 (mass 1), started from the exact
Boltzmann distribution (von Mises) and Maxwell momenta. The stationary average <cos q> of the
discrete dynamics is compared with the exact I1(1)/I0(1) for each dt: error, standard error
(from the spread of the per-pendulum time averages, which are independent), error / dt^2,
and the order p of a weighted straight-line fit of log|error| against log dt.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from runtime.dynamics.integrators import TDGL, Langevin

_Q = np.linspace(0.0, 2 * np.pi, 256, endpoint=False)
EXACT = float((np.cos(_Q) * np.exp(np.cos(_Q))).sum() / np.exp(np.cos(_Q)).sum())
"""<cos q> at T = 1, I1(1)/I0(1): the trapezoid rule is exact to rounding for this periodic
integrand."""


def pendulum_force(q: torch.Tensor) -> torch.Tensor:
    return -torch.sin(q)


def stationary_cosine(integrator, n: int, burn_in: float, duration: float, seed: int):
    """(mean <cos q> over pendulums and time, its standard error)."""
    q0 = torch.from_numpy(np.random.default_rng(seed).vonmises(0.0, 1.0, n))
    state = integrator.init(q0, pendulum_force, seed=seed)
    for _ in range(round(burn_in / integrator.dt)):
        state = integrator.step(state, pendulum_force)
    steps = round(duration / integrator.dt)
    total = torch.zeros(n, dtype=torch.float64)
    for _ in range(steps):
        state = integrator.step(state, pendulum_force)
        total += torch.cos(state.field)
    means = total / steps
    return float(means.mean()), float(means.std()) / math.sqrt(n)


def fitted_order(dts, errors, standard_errors) -> tuple[float, float]:
    """Order p and its standard error from a weighted fit of log|e| = log C + p log dt."""
    x, y = np.log(dts), np.log(np.abs(errors))
    weights = (np.abs(errors) / np.asarray(standard_errors)) ** 2  # 1 / var(log|e|)
    (p, _), covariance = np.polyfit(x, y, 1, w=np.sqrt(weights), cov="unscaled")
    return float(p), float(np.sqrt(covariance[0, 0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrator", choices=("langevin", "tdgl"), default="langevin")
    parser.add_argument("--damping", type=float, default=None,
                        help="lambda (default 0.2 for langevin, 1 for tdgl)")
    parser.add_argument("--dt", type=float, nargs="+", default=[0.8, 0.56, 0.4, 0.28])
    parser.add_argument("--pendulums", type=int, default=200_000)
    parser.add_argument("--time", type=float, default=400.0, help="averaging time")
    parser.add_argument("--burn-in", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.integrator == "langevin":
        damping = 0.2 if args.damping is None else args.damping

        def make(dt):
            return Langevin(dt=dt, mass=1.0, damping=damping, temperature=1.0)
    else:
        damping = 1.0 if args.damping is None else args.damping

        def make(dt):
            return TDGL(dt=dt, damping=damping, temperature=1.0)

    print(f"{args.integrator}, damping {damping}, V = -cos q, T = 1, {args.pendulums} pendulums, "
          f"averaging time {args.time}; exact <cos q> = {EXACT:.6f}")
    print(f"{'dt':>6} {'error':>11} {'std err':>9} {'error/dt^2':>11} {'s':>6}")
    errors, standard_errors = [], []
    for dt in args.dt:
        start = time.perf_counter()
        mean, se = stationary_cosine(make(dt), args.pendulums, args.burn_in, args.time,
                                     args.seed)
        errors.append(mean - EXACT)
        standard_errors.append(se)
        print(f"{dt:6.3f} {mean - EXACT:11.3e} {se:9.1e} {(mean - EXACT) / dt**2:11.4f} "
              f"{time.perf_counter() - start:6.1f}")
    p, dp = fitted_order(np.array(args.dt), np.array(errors), np.array(standard_errors))
    print(f"weak order p = {p:.2f} +- {dp:.2f}")


if __name__ == "__main__":
    main()
