"""One plot style for the whole book, readable on light and dark pages."""

import matplotlib.pyplot as plt

# Colour-blind safe palette (Okabe and Ito), one colour per curve in order.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def use_book_style() -> None:
    """Set matplotlib defaults: opaque white figures so plots stay legible in dark mode."""
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "legend.frameon": False,
        }
    )


def plot_curves(ax, x, curves: dict, xlabel: str = "", ylabel: str = "", title: str = ""):
    """Plot several named curves that share one x axis; return the axis."""
    for name, y in curves.items():
        ax.plot(_to_numpy(x), _to_numpy(y), label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def _to_numpy(values):
    """Tensors (on any device, with or without grad) become NumPy arrays for matplotlib."""
    if hasattr(values, "detach"):
        return values.detach().cpu().numpy()
    return values
