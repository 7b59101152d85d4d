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
