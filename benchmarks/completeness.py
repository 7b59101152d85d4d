"""Completeness of the catalog descriptors: Jacobian rank against the neighborhood dimension.

    python benchmarks/completeness.py

For each generated descriptor (each site class of a lattice with inequivalent sites, about the
class's first site): features, the rank of ∂(features at one site)/∂(field) at a random
configuration, and L·M (sites × components of the neighborhood). Type-I descriptors
that are complete reach L·M; spin descriptors are invariant under global rotations, so at
most 3L − 3; `power` misses the relative phases of the irreps.
"""

import generated
from codegen.catalog import CATALOG
from grouptheory import Lattice


def main():
    print(f"{'descriptor':<32}{'features':>9}{'rank':>7}{'L·M':>7}")
    for name in generated.available():
        lattice, _, _, shells, _ = CATALOG[name]
        lattice = Lattice.preset(lattice)
        descriptor = generated.load(name)
        for k, d in enumerate(getattr(descriptor, "classes", (descriptor,))):
            site = d.centers[0]
            dim = len(lattice.neighborhood(shells=shells, site=site)) * d.components
            label = f"{name}[c{k}]" if hasattr(descriptor, "classes") else name
            print(f"{label:<32}{d.n_features:>9}{d.jacobian_rank():>7}{dim:>7}")


if __name__ == "__main__":
    main()
