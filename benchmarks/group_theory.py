"""Speed of the exact group theory: irreps and all Clebsch–Gordan tables.

    python benchmarks/group_theory.py

Prints seconds per group (fresh objects, nothing cached); the goal for Oh is < 10 s on the
2-core machine. The baseline in the same run is building the group alone (closure, table,
classes), so the ratio says how much the representation theory costs on top.
"""

import time

from grouptheory import Lattice, point_group


def _time(make):
    start = time.perf_counter()
    group = make()
    built = time.perf_counter()
    irreps = group.irreps
    done_irreps = time.perf_counter()
    for a in irreps:
        for b in irreps:
            group.clebsch_gordan(a, b)
    end = time.perf_counter()
    return group, built - start, done_irreps - built, end - done_irreps


def main():
    print(f"{'group':<22}{'order':>6}{'group s':>10}{'irreps s':>10}{'all CG s':>10}"
          f"{'total s':>10}{'pairs':>7}")
    cases = [("Oh (catalog)", lambda: point_group("Oh")),
             ("D6h (catalog)", lambda: point_group("D6h")),
             ("cubic lattice site", lambda: Lattice.cubic().site_group()),
             ("square lattice site", lambda: Lattice.square().site_group()),
             ("triangular site", lambda: Lattice.triangular().site_group())]
    for label, make in cases:
        group, t_group, t_irreps, t_cg = _time(make)
        n = len(group.irreps)
        print(f"{label:<22}{group.order:>6}{t_group:>10.2f}{t_irreps:>10.2f}{t_cg:>10.2f}"
              f"{t_group + t_irreps + t_cg:>10.2f}{n * n:>7}")


if __name__ == "__main__":
    main()
