"""Speed of the exact neighborhood decomposition (issue 3).

    python benchmarks/decomposition.py

Cases: square scalar with 14 shells (the paper's L = 89), square spin with the paper's
building blocks (center bonds, nearest-neighbour off-center bonds, chiralities), cubic (Oh)
scalar with 5 shells. Each is timed from a fresh lattice (site group, irreps, neighborhood
and decomposition); the baseline in the same run is the site group and irreps alone.
"""

import time

from grouptheory import Field, Lattice, decompose


def main():
    cases = [("square scalar, 14 shells", "square", Field.scalar(), 14),
             ("square spin, 4 shells", "square", Field.spin(bond_shells=1, chirality_shells=2), 4),
             ("square spin, 14 shells", "square", Field.spin(bond_shells=1, chirality_shells=2),
              14),
             ("square Jahn-Teller, 14 shells", "square", Field.jahn_teller(), 14),
             ("cubic scalar, 5 shells", "cubic", Field.scalar(), 5)]
    print(f"{'case':<32}{'dim U':>7}{'blocks':>8}{'group+irreps s':>16}{'decompose s':>13}")
    for label, lattice_name, field, shells in cases:
        start = time.perf_counter()
        lattice = Lattice.preset(lattice_name)
        _ = lattice.site_group().irreps  # the baseline: group and irreps
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        result = decompose(lattice.neighborhood(shells=shells), field)
        elapsed = time.perf_counter() - start
        print(f"{label:<32}{result.dimension:>7}{len(result.blocks):>8}{baseline:>16.2f}"
              f"{elapsed:>13.2f}")


if __name__ == "__main__":
    main()
