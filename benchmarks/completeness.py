"""Completeness of the catalog descriptors: Jacobian rank against the neighborhood dimension.

    python benchmarks/completeness.py

For each generated descriptor: features, the rank of ∂(features at one site)/∂(field) at a
random configuration, and L·M (sites × components of the neighborhood). Type-I descriptors
that are complete reach L·M; spin descriptors are invariant under global rotations, so at
most 3L − 3; `power` misses the relative phases of the irreps.
"""

import generated
from codegen.catalog import CATALOG
from grouptheory import Lattice


def main():
    print(f"{'descriptor':<32}{'features':>9}{'rank':>7}{'L·M':>7}")
    for name in generated.available():
        d = generated.load(name)
        lattice, _, _, shells, _ = CATALOG[name]
        dim = len(Lattice.preset(lattice).neighborhood(shells=shells)) * d.components
        print(f"{name:<32}{d.n_features:>9}{d.jacobian_rank():>7}{dim:>7}")


if __name__ == "__main__":
    main()
