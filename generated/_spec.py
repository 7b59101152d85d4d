"""The spec hash without sympy or torch (hand-written, never generated).

`content_hash` is the SHA-256 of the canonical JSON dump (sorted keys, no "hash" entry), the
same function as `grouptheory.descriptor.content_hash` (a test holds them equal), so a
generated module can check the spec it embeds against the SPEC_HASH it carries.
"""

from __future__ import annotations

import hashlib
import json


class SpecHashError(RuntimeError):
    """A generated module whose embedded spec does not match its SPEC_HASH."""


def content_hash(data: dict) -> str:
    body = {k: v for k, v in data.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def checked_spec(name: str, text: str, stated: str) -> dict:
    """The spec embedded in module `name` as JSON `text`, if it hashes to `stated`."""
    data = json.loads(text)
    actual = content_hash(data)
    if actual != stated:
        raise SpecHashError(
            f"generated module {name} is corrupt: its embedded spec hashes to {actual[:12]}, "
            f"not to its SPEC_HASH {stated[:12]}; regenerate it with `latticeff generate` "
            "(catalog modules: `latticeff generate --catalog`)")
    return data



def spin_sites(key, dim: int) -> list[tuple[tuple[int, ...], int]]:
    """The spins a bond / chirality / length channel reads, as (cell offset, sublattice)
    relative to the channel's cell: ("length",), ("dot", d), ("triple", d1, d2) on lattices
    with one site per cell (sublattice 0), and ("length", b), ("dot", b1, d, b2),
    ("triple", b0, d1, b1, d2, b2) with several (see grouptheory.descriptors.stencil)."""
    rest = [tuple(x) if isinstance(x, list) else x for x in key[1:]]
    zero = (0,) * dim
    if not rest or isinstance(rest[0], tuple):  # one site per cell
        return [(zero, 0)] + [(d, 0) for d in rest]
    return [(zero, rest[0])] + [(rest[i], rest[i + 1]) for i in range(1, len(rest), 2)]
