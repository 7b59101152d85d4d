"""The catalog's descriptors for tests that run on every one of them."""

import generated


def catalog_descriptors() -> dict:
    """{name: descriptor} of every catalog module; a module with several site classes
    contributes the descriptor of each class instead, as name[c0], name[c1], …"""
    result = {}
    for name in generated.available():
        descriptor = generated.load(name)
        for k, part in enumerate(getattr(descriptor, "classes", None) or ()):
            result[f"{name}[c{k}]"] = part
        if not hasattr(descriptor, "classes"):
            result[name] = descriptor
    return result
