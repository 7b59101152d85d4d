"""`DescriptorSpec`: the plain-data contract between `grouptheory` and `codegen` (DESIGN.md).

A spec holds the three stages — channels, stencil taps with exact coefficients, pointwise
invariant expressions (or the eigenvalue problem of `corrmatrix`) — plus the lattice, field,
neighborhood and parameters that made it, the feature names, and a SHA-256 content hash that
generated modules and trained models carry.

    spec = build_descriptor("square", "scalar", "reference", shells=14)
    spec.n_features, spec.hash[:12], DescriptorSpec.from_json(spec.to_json()) == spec
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sympy as sp

from .. import numbers
from ..decomposition import decompose
from ..errors import GroupTheoryError
from ..fields import Field
from ..lattice import Lattice
from . import invariants
from .acsf import acsf
from .actions import site_group_actions
from .correlation_matrix import correlation_matrix
from .stencil import from_decomposition, map_sublattices

FAMILIES = ("power", "bispectrum", "reference", "phase", "corrmatrix", "acsf", "raw")
SPEC_VERSION = 2  # 2: the site-group actions ("symmetry")


@dataclass(frozen=True)
class DescriptorSpec:
    """A descriptor as JSON-serialisable data (`data`); identity is the content hash."""

    data: dict

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def family(self) -> str:
        return self.data["family"]

    @property
    def feature_names(self) -> list[str]:
        return self.data["features"]

    @property
    def n_features(self) -> int:
        return len(self.data["features"])

    @property
    def hash(self) -> str:
        return content_hash(self.data)

    def to_json(self) -> str:
        return json.dumps({**self.data, "hash": self.hash}, sort_keys=True, indent=1,
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DescriptorSpec:
        """The spec written by `to_json`; refused unless it carries its matching hash."""
        data = json.loads(text)
        stated = data.pop("hash", None)
        spec = cls(data)
        if stated is None:
            raise GroupTheoryError("descriptor spec has no hash: write it with to_json()")
        if stated != spec.hash:
            raise GroupTheoryError("descriptor spec is corrupt: its content does not match "
                                   "its hash")
        return spec

    def __eq__(self, other) -> bool:
        return isinstance(other, DescriptorSpec) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


def content_hash(data: dict) -> str:
    body = {k: v for k, v in data.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


FIELD_NAMES = {"scalar": Field.scalar, "jahn_teller": Field.jahn_teller,
               "quadrupole": Field.quadrupole, "vector": Field.vector, "spin": Field.spin}


def _field(field) -> Field:
    if isinstance(field, Field):
        return field
    if field in FIELD_NAMES:
        return FIELD_NAMES[field]()
    raise GroupTheoryError(f"unknown field {field!r}; known: {', '.join(FIELD_NAMES)}")


def build_descriptor(lattice, field, family: str, shells: int | None = None, cutoff=None,
                     name: str | None = None, **options) -> DescriptorSpec:
    """Build the spec of `family` for `field` on `lattice` (preset name or `Lattice`).

    Options: power(cross=False), bispectrum(max_copy=1), reference(smoothing=0.1),
    phase(smoothing=0.1), acsf(width=0.5, radii_shells=None), corrmatrix(), raw() (not
    invariant: the no-descriptor baseline).

    On a lattice with inequivalent sites (several `Lattice.site_classes`, e.g. Lieb) the spec
    holds one descriptor per class under "classes", each about its first site with that
    site's own group and computed at the class's sites ("centers"); see `classes`.
    """
    if family not in FAMILIES:
        raise GroupTheoryError(f"unknown descriptor family {family!r}; known: "
                               f"{', '.join(FAMILIES)}")
    lattice = Lattice.preset(lattice) if isinstance(lattice, str) else lattice
    field = _field(field)
    if shells is None and cutoff is None:
        shells = 2
    name = name or f"{lattice.name}_{field.name}_{family}"
    classes = lattice.site_classes
    if len(classes) == 1:
        return DescriptorSpec(_descriptor_data(lattice, field, family, shells, cutoff, name,
                                               options, classes[0]))
    parts = [_descriptor_data(lattice, field, family, shells, cutoff, f"{name}_c{k}", options,
                              centers, keep_centers=True)
             for k, centers in enumerate(classes)]
    first = parts[0]
    return DescriptorSpec({
        "version": SPEC_VERSION, "name": name, "family": family, "options": first["options"],
        "lattice": first["lattice"], "group": first["group"], "field": first["field"],
        "neighborhood": {"shells": shells, "cutoff": first["neighborhood"]["cutoff"],
                         "sites": sum(p["neighborhood"]["sites"] for p in parts)},
        "features": [f"c{k}:{f}" for k, p in enumerate(parts) for f in p["features"]],
        "classes": parts, "symmetry": first["symmetry"]})


def _descriptor_data(lattice, field, family, shells, cutoff, name, options, centers,
                     keep_centers: bool = False) -> dict:
    """The spec data of one descriptor about site centers[0], computed at `centers`."""
    hood = lattice.neighborhood(shells=shells, cutoff=cutoff, site=centers[0])
    group = hood.group
    special = None
    if family in ("power", "bispectrum", "reference", "phase", "raw"):
        decomposition = decompose(hood, field)
        stage, index = from_decomposition(decomposition, len(centers))
        if family == "power":
            features = invariants.power(group, index, **options)
        elif family == "bispectrum":
            features = invariants.bispectrum(group, index, **options)
        elif family == "raw":
            features = invariants.raw(index, **options)
        else:
            features = getattr(invariants, family)(stage, group, index, **options)
        features = invariants.distinct(features)[0]
    elif family == "acsf":
        stage, features = acsf(hood, field, len(centers), **options)
    else:
        stage, weights = correlation_matrix(hood, field, len(centers))
        special = {"kind": "eigvalsh", "order": "descending",
                   "weights": [[str(w) for w in row] for row in weights]}
        features = [(f"lambda{k}", None) for k in range(len(weights))]
    map_sublattices(stage, lattice, field, centers)
    comps = field.component_names(group)
    data = {
        "version": SPEC_VERSION,
        "name": name,
        "family": family,
        "options": {k: options[k] for k in sorted(options)},
        "lattice": {"name": lattice.name, "dimension": lattice.dimension,
                    "sublattices": lattice.sublattices,
                    "vectors": [[str(x) for x in lattice.vectors.row(i)]
                                for i in range(lattice.dimension)],
                    "basis": [[str(x) for x in f] for f in lattice.basis]},
        "group": group.name,
        "field": {"name": field.name, "components": list(comps), "internal": field.internal,
                  "options": dict(field.options)},
        "neighborhood": {"shells": shells, "cutoff": None if cutoff is None else str(cutoff),
                         "sites": len(hood)},
        "stencil": {**stage.as_dict(), "radius": list(stage.radius)},
        "features": [n for n, _ in features],
        "expressions": [None if e is None else str(e) for _, e in features],
        "special": special,
        "symmetry": site_group_actions(lattice, group, field, centers[0]),
    }
    if keep_centers:
        data["centers"] = list(centers)
    return data


def classes(spec: DescriptorSpec) -> list[DescriptorSpec]:
    """The per-class descriptors of a spec: its "classes", or the spec itself."""
    return [DescriptorSpec(c) for c in spec.data["classes"]] if "classes" in spec.data \
        else [spec]


def parse_expressions(spec: DescriptorSpec) -> list[sp.Expr | None]:
    """The stage-3 expressions as sympy objects in the symbols y0, y1, … (codegen), read
    by the restricted parser of `numbers`: the text of a spec is never evaluated as code."""
    n = len(spec.data["stencil"]["outputs"])
    return [None if e is None else numbers.to_expression(e, n)
            for e in spec.data["expressions"]]
