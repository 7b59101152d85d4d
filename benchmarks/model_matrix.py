"""Every preset lattice × every model: the matrix of docs/lattices.md.

    OMP_NUM_THREADS=1 python benchmarks/model_matrix.py      # markdown table, then refusals

Each combination is built the way a dataset config builds it (`DatasetConfig.from_dict`, so
the model's own checks run) on a small cluster (3 × 3 cells in 2D; 3 × 3 × 3 or, with
several sites per cell, 2 × 2 × 2 in 3D) at
(mu, T) = (0.1, 0.2), and either runs: the exact force is checked against the central
difference of the total energy E + V along a random direction (the relative error is
printed), or it is refused with a `LatticeffError` whose one-line message is listed.
`tests/runtime/test_model_matrix.py` asserts the same on every cell.
"""

from __future__ import annotations

import torch

from grouptheory.presets import PRESETS
from runtime.data.config import MODELS, DatasetConfig, build
from runtime.errors import LatticeffError

EXTRA = {"jahn_teller": {"V_pi": -0.3, "V_delta": 0.1}}
"""Parameters beyond the defaults: the e_g model's dd-pi and dd-delta terms (needed on the
<111> bonds of bcc and diamond, exercised everywhere)."""
STEP = 1e-5


def size(lattice: str) -> list[int]:
    """3 × 3 cells in 2D; in 3D 3 × 3 × 3 for one site per cell, else 2 × 2 × 2."""
    preset = PRESETS[lattice]
    if len(preset.vectors) == 2:
        return [3, 3]
    return [3, 3, 3] if len(preset.basis) == 1 else [2, 2, 2]


def audit(lattice: str, name: str) -> tuple[str, str | float]:
    """("runs", relative error of the force against -dE/dfield by central differences) or
    ("refused", the message) for the preset `lattice` and the model `name` of MODELS."""
    table = {"output": "unused.h5", "seed": 0, "trajectories": 1,
             "model": {"name": name, "lattice": lattice, "size": size(lattice),
                       **EXTRA.get(name, {})},
             "electrons": {"mu": 0.1, "temperature": 0.2},
             "integrator": {"name": "langevin", "dt": 0.05},
             "protocol": {"kind": "quench", "temperature": 0.05, "snapshots": 1,
                          "sample_every": 1}}
    try:
        config = DatasetConfig.from_dict(table)
    except LatticeffError as error:
        return "refused", str(error)
    forces = build(config.parameters).forces
    model = forces.model
    field = 0.5 * model.random_field(1, seed=1)
    direction = torch.randn(field.shape, generator=torch.Generator().manual_seed(2),
                            dtype=torch.float64)
    slope = (forces.energy(field + STEP * direction)
             - forces.energy(field - STEP * direction)) / (2 * STEP)
    exact = -(forces(field) * direction).sum()
    return "runs", float((slope - exact).abs().max() / exact.abs())


def matrix() -> dict[tuple[str, str], tuple[str, str | float]]:
    return {(lattice, name): audit(lattice, name) for name in MODELS for lattice in PRESETS}


def main() -> None:
    results = matrix()
    lattices = list(PRESETS)
    print("| model (field) | " + " | ".join(lattices) + " |")
    print("| --- |" + " --- |" * len(lattices))
    for name, model in MODELS.items():
        cells = []
        for lattice in lattices:
            status, value = results[lattice, name]
            cells.append(f"runs ({value:.0e})" if status == "runs" else "refused")
        print(f"| `{name}` ({model.field}) | " + " | ".join(cells) + " |")
    print()
    for (lattice, name), (status, value) in results.items():
        if status == "refused":
            print(f"- {name} on {lattice}: {value}")


if __name__ == "__main__":
    main()
