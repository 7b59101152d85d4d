"""Accuracy of a force field on snapshots with exact forces (paper Figs. 4, 8, 9, 10, 12).

    metrics = force_errors(model, fields, forces)   # RMSE, mean and sigma of delta, per component
    plot_parity(metrics, "parity.png");  plot_histogram(metrics, "errors.png")

delta = F_ML - F_exact over every site and component; sigma is the standard deviation of its
distribution (the paper's sigma = 0.023 for Holstein is of forces divided by g, so both raw and
normalized figures are reported when the coupling is known), sigma^2 its variance (the paper's
0.035 for s-d). Plots use matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from runtime.files import write_atomically


@dataclass(frozen=True)
class ForceErrors:
    """Predicted and exact forces (n, *cells, sublattice, component) and their statistics."""

    predicted: np.ndarray
    exact: np.ndarray
    component_names: tuple[str, ...]
    scale: float = 1.0  # forces are divided by it in the normalized figures (the coupling g)
    scale_name: str = ""  # its name in plot labels, e.g. "g"

    @property
    def delta(self) -> np.ndarray:
        return self.predicted - self.exact

    def summary(self) -> dict:
        """RMSE, mean, sigma and sigma^2 of delta, overall and per component; also divided by
        `scale`."""
        def stats(delta: np.ndarray) -> dict:
            return {"rmse": float(np.sqrt(np.mean(delta ** 2))), "mean": float(delta.mean()),
                    "sigma": float(delta.std()), "variance": float(delta.var()),
                    "max_abs": float(np.abs(delta).max())}

        delta = self.delta
        out = {"snapshots": int(delta.shape[0]), "values": int(delta.size),
               "force_scale": self.scale, "force_scale_name": self.scale_name,
               **stats(delta),
               "normalized": stats(delta / self.scale),
               "exact_rms": float(np.sqrt(np.mean(self.exact ** 2)))}
        if delta.shape[-1] > 1:
            out["components"] = {name: stats(delta[..., c])
                                 for c, name in enumerate(self.component_names)}
        return out


def summary_line(summary: dict) -> str:
    """The one-line headline of a `ForceErrors.summary()`: RMSE, mean error (the bias) and
    sigma side by side, with the RMS of the exact force as the yardstick; raw, then divided by
    the coupling. RMSE^2 = mean^2 + sigma^2, so a sigma far below the RMSE is a bias."""
    scale = summary.get("force_scale", 1.0) or 1.0
    normalized = summary.get("normalized", summary)

    def figures(stats: dict, exact_rms: float) -> str:
        return (f"RMSE {stats['rmse']:.4g}, mean error {stats['mean']:+.4g}, sigma "
                f"{stats['sigma']:.4g} (exact force RMS {exact_rms:.4g})")

    line = figures(summary, summary["exact_rms"])
    if scale != 1.0:
        name = summary.get("force_scale_name") or f"{scale:g}"
        line += f"; divided by {name}: {figures(normalized, summary['exact_rms'] / scale)}"
    return line


def force_errors(model, fields: torch.Tensor, forces: torch.Tensor, *, batch_size: int = 16,
                 component_names=None, scale: float = 1.0, scale_name: str = "") -> ForceErrors:
    """ML forces of `model` on `fields` (in batches) against the exact `forces`; the first
    `component_names` as it has components label them (a model's `force_names` may cover three
    dimensions)."""
    predicted = torch.cat([model.forces(part) for part in fields.split(batch_size)])
    names = tuple(component_names or (f"F{c}" for c in range(fields.shape[-1])))
    names = names[:fields.shape[-1]]
    return ForceErrors(predicted.numpy(), forces.numpy(), names, float(scale), scale_name)


def _figure(columns: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, columns, figsize=(4.2 * columns, 4), squeeze=False)
    return plt, figure, axes[0]


def plot_parity(errors: ForceErrors, path, title: str = "") -> Path:
    """ML versus exact force (divided by the scale), one panel per component."""
    plt, figure, axes = _figure(len(errors.component_names))
    for c, (ax, name) in enumerate(zip(axes, errors.component_names)):
        exact = errors.exact[..., c].ravel() / errors.scale
        predicted = errors.predicted[..., c].ravel() / errors.scale
        ax.hexbin(exact, predicted, gridsize=80, bins="log", mincnt=1, cmap="viridis")
        low, high = min(exact.min(), predicted.min()), max(exact.max(), predicted.max())
        ax.plot([low, high], [low, high], "r-", lw=0.8)
        ax.set_xlabel(f"exact {name}{_per(errors)}")
        ax.set_ylabel(f"ML {name}{_per(errors)}")
        ax.set_aspect("equal")
    figure.suptitle(title)
    return _save(plt, figure, path)


def plot_histogram(errors: ForceErrors, path, title: str = "") -> Path:
    """Histogram of delta / scale per component with the Gaussian of the same mean and sigma."""
    plt, figure, axes = _figure(len(errors.component_names))
    for c, (ax, name) in enumerate(zip(axes, errors.component_names)):
        delta = errors.delta[..., c].ravel() / errors.scale
        mean, sigma = delta.mean(), delta.std()
        ax.hist(delta, bins=100, density=True, color="tab:blue", alpha=0.7)
        x = np.linspace(delta.min(), delta.max(), 400)
        if sigma > 0:
            ax.plot(x, np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)),
                    "r-", lw=1)
        ax.set_xlabel(f"δ = ({name}(ML) − {name}(exact)){_per(errors)}")
        ax.set_ylabel("density")
        ax.set_title(f"σ = {sigma:.4g}")
    figure.suptitle(title)
    return _save(plt, figure, path)


def sigma_curves(calls, summaries: list[dict]) -> tuple[dict, str]:
    """({label: (calls, sigma)}, the y label) of test summaries (`ForceErrors.summary()`) at
    the given ED calls: sigma of the whole force and of each component, divided by the
    coupling, for `plot_learning_curve`."""
    curves = {"all components": (calls, [v["normalized"]["sigma"] for v in summaries])}
    scale = summaries[0]["force_scale"] or 1.0
    for name in summaries[0].get("components", {}):
        curves[name] = (calls, [v["components"][name]["sigma"] / scale for v in summaries])
    return curves, f"σ / {summaries[0]['force_scale_name'] or 'scale'} (exact test set)"


def plot_learning_curve(curves: dict, path, *, ylabel: str = "σ", title: str = "") -> Path:
    """Test error against ED calls (log-log), one line per entry of `curves`, {label: (ED
    calls, error)}: e.g. the iterations of `latticeff learn` against datasets of the
    exact-trajectory protocol."""
    plt, figure, axes = _figure(1)
    ax = axes[0]
    for label, (calls, error) in curves.items():
        ax.plot(calls, error, "o-", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = ax.get_xlim()
    if hi < 10 * lo:  # less than a decade: a few plain labels, not one per minor tick
        from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("ED calls (cumulative)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    figure.suptitle(title)
    return _save(plt, figure, path)


def _per(errors: ForceErrors) -> str:
    return "" if errors.scale == 1 else f" / {errors.scale_name or f'{errors.scale:g}'}"


def _save(plt, figure, path) -> Path:
    figure.tight_layout()
    try:
        return write_atomically(path, lambda temporary: figure.savefig(
            temporary, dpi=110, format=Path(path).suffix[1:] or "png"))
    finally:
        plt.close(figure)
