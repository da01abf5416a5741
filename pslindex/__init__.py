"""Runtime side of the offline Swiss-Prot location index: open it, query it, match peptides."""

from pslindex.classes import ALPHABET, CLASS_INDEX, CLASSES
from pslindex.errors import PslError
from pslindex.store import Index, open_index

__all__ = ["ALPHABET", "CLASSES", "CLASS_INDEX", "Index", "PslError", "open_index"]
__version__ = "0.1.0"
