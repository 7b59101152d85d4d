"""Where a force field extrapolates: the range of its training descriptors (issue 16, item 2).

    model.metadata["feature_range"] = feature_range(features)     # set by training
    monitor = RangeMonitor(model, margin=0.1)
    excess = monitor(field)        # (batch, *cells, sublattice), 0 inside the training range

The excess of site i is max over features f of how far f_i lies outside [min_f, max_f] of the
training descriptors, in units of that range's width (max_f - min_f; 1 for a constant
feature): 0 inside, 0.5 half a width beyond an edge. A site past `margin` is an
extrapolation: the network has never seen such a neighbourhood, so its force there is a guess.
`runtime.dynamics.simulation.simulate` takes the monitor and warns (step, site, value,
threshold) when the largest excess of a measured frame passes `margin`.
"""

from __future__ import annotations

import torch

from runtime.checks import real_number
from runtime.errors import ForceFieldError


def feature_range(features) -> dict:
    """{"min": [...], "max": [...]} per feature over every site of `features` (..., F),
    JSON-ready (the model metadata records it); for the per-class features of a site-class
    model (a tuple), {"classes": [one range per class]}."""
    if isinstance(features, tuple):
        return {"classes": [feature_range(part) for part in features]}
    flat = features.detach().reshape(-1, features.shape[-1]).to(torch.float64)
    return {"min": flat.min(0).values.tolist(), "max": flat.max(0).values.tolist()}


def union(ranges) -> dict:
    """The smallest range holding every one of `ranges` (the members of an ensemble)."""
    ranges = list(ranges)
    low = torch.tensor([r["min"] for r in ranges], dtype=torch.float64).min(0).values
    high = torch.tensor([r["max"] for r in ranges], dtype=torch.float64).max(0).values
    return {"min": low.tolist(), "max": high.tolist()}


class RangeMonitor:
    """Per-site excess over the training range of `model` (a ForceField or Ensemble whose
    metadata holds "feature_range"), and `threshold` = `margin` (a fraction of each
    feature's range width). The `Monitor` protocol of `simulate`."""

    name = "training-range excess"

    def __init__(self, model, margin: float = 0.1):
        recorded = model.metadata.get("feature_range")
        parts = getattr(model.descriptor, "classes", None)  # site classes: a range each
        ranges = recorded.get("classes") if parts and isinstance(recorded, dict) else [recorded]
        sizes = [p.n_features for p in parts] if parts else [model.descriptor.n_features]
        if not isinstance(ranges, list) or len(ranges) != len(sizes) or not all(
                isinstance(r, dict) and len(r.get("min", ())) == len(r.get("max", ())) == n
                for r, n in zip(ranges, sizes)):
            raise ForceFieldError("the model records no training range of its features "
                                  "(metadata key feature_range); retrain it with this version "
                                  "of latticeff to get the extrapolation warning")
        self.threshold = real_number("margin", margin)
        if self.threshold < 0:
            raise ForceFieldError(f"margin must be >= 0, got {margin}")
        self.model = model
        self.centers = [p.centers for p in parts] if parts else None
        self.bounds = []
        for r in ranges:
            low = torch.tensor(r["min"], dtype=torch.float64)
            high = torch.tensor(r["max"], dtype=torch.float64)
            width = high - low
            self.bounds.append((low, high, torch.where(width > 0, width, torch.ones_like(width))))

    def __call__(self, field: torch.Tensor) -> torch.Tensor:
        features = self.model.features(field)
        excess = [(torch.maximum(f.to(torch.float64) - high, low - f.to(torch.float64))
                   .clamp(min=0) / width).amax(-1)
                  for f, (low, high, width) in zip(
                      features if self.centers else [features], self.bounds)]
        if self.centers is None:
            return excess[0]
        whole = torch.zeros(field.shape[:-1], dtype=torch.float64)  # (batch, *cells, sites)
        for part, centers in zip(excess, self.centers):
            whole[..., list(centers)] = part
        return whole
