"""matplotlib on the Agg backend, without pyplot: a figure is a plain
``Figure`` drawn by ``FigureCanvasAgg`` (no display, no global figure list,
safe in a worker process), saved as PNG atomically (temp file in the same
folder, then rename, so a reader never sees half a file).

Colours and sizes shared by every chart are named here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lib.errors import ReportingError

__all__ = ["COLOURS", "DPI", "PNG_SIGNATURE", "new_figure", "save_png"]

#: Dots per inch of every PNG (a 10 x 5 in figure is 1000 x 500 px).
DPI = 100
#: The first 8 bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Named colours: cost within the cap, over the cap, over the collar, price
#: improvement, reference marks.
COLOURS = {
    "within": "#4c78a8",
    "over_cap": "#f58518",
    "over_collar": "#e45756",
    "improved": "#54a24b",
    "unfilled": "#bab0ac",
    "collar": "#222222",
    "cap": "#e45756",
}


def new_figure(width_in: float, height_in: float, *, rows: int = 1) -> Figure:
    """A figure with ``rows`` stacked axes, on the Agg canvas."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(rows, 1, squeeze=False)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG at ``path`` (folders created); raises
    :class:`ReportingError` naming the path when it cannot be written."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(fh, format="png", dpi=DPI)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportingError(str(target), f"{type(exc).__name__}: {exc}") from exc
    return target
