"""matplotlib for files: the one place that picks the backend (reports and PNGs are drawn without a screen)."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
