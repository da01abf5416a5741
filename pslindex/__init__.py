"""Runtime side of the offline Swiss-Prot location index: open it, query it, match peptides."""

from pslindex.classes import ALPHABET, CLASS_INDEX, CLASSES
from pslindex.errors import PslError
from pslindex.store import Index, open_index

__all__ = ["ALPHABET", "CLASSES", "CLASS_INDEX", "Index", "PslError", "open_index"]
try:  # one version source: the installed distribution's metadata (pyproject.toml)
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("psl-interpret")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
