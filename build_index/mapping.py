"""Mapping source location vocabularies onto the ten DeepLoc classes (SPEC section 4)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from build_index.records import Location
from pslindex.classes import CLASS_INDEX
from pslindex.errors import PslError

# UniProt subcellular-location terms, matched case-insensitively against the first component of
# the term (before the comma), as a whole word: "Cytoplasm" and "Cytoplasm, cytosol" are
# Cytoplasm, but "Cytoplasmic vesicle" is not (a vesicle is not the cytosol, and DeepLoc did not
# count it there). Longer keys first so that e.g. "Cell membrane" is tried before anything shorter.
UNIPROT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("endoplasmic reticulum", "Endoplasmic.reticulum"),
    ("golgi apparatus", "Golgi.apparatus"),
    ("cell membrane", "Cell.membrane"),
    ("mitochondrion", "Mitochondrion"),
    ("extracellular", "Extracellular"),
    ("chloroplast", "Plastid"),
    ("peroxisome", "Peroxisome"),
    ("cytoplasm", "Cytoplasm"),
    ("lysosome", "Lysosome/Vacuole"),
    ("secreted", "Extracellular"),
    ("nucleus", "Nucleus"),
    ("plastid", "Plastid"),
    ("vacuole", "Lysosome/Vacuole"),
)
# "Cell membrane" has no wildcard in the SPEC: "Cell membrane" itself only, not e.g. a longer term.
_EXACT_ONLY = {"cell membrane"}


def uniprot_term_class(term: str) -> str | None:
    """The DeepLoc class of a UniProt subcellular-location term, or None.

    Examples
    --------
    >>> uniprot_term_class("Mitochondrion inner membrane")
    'Mitochondrion'
    >>> uniprot_term_class("Secreted, extracellular space")
    'Extracellular'
    >>> uniprot_term_class("Cytoplasmic vesicle") is None
    True
    """
    first = term.split(",", 1)[0].strip().lower()
    for key, cls in UNIPROT_PREFIXES:
        if first == key:
            return cls
        if key not in _EXACT_ONLY and first.startswith(key + " "):
            return cls
    return None


# GO cellular-component anchors (SPEC section 4), term id -> class.
GO_ANCHORS: dict[str, str] = {
    "GO:0005634": "Nucleus",
    "GO:0005737": "Cytoplasm",
    "GO:0005576": "Extracellular",
    "GO:0005739": "Mitochondrion",
    "GO:0005886": "Cell.membrane",
    "GO:0005783": "Endoplasmic.reticulum",
    "GO:0009536": "Plastid",
    "GO:0005794": "Golgi.apparatus",
    "GO:0005764": "Lysosome/Vacuole",
    "GO:0005773": "Lysosome/Vacuole",
    "GO:0005777": "Peroxisome",
}


class GoClassMapper:
    """Maps a GO term to the class(es) of its nearest anchor ancestor.

    Built from a transitive closure table with one row per (term, ancestor, distance); a term is
    its own ancestor at distance 0. The nearest anchors win (all of them on a tie). GO puts the
    organelles inside the cytoplasm, so a term with any organelle anchor above it never also maps
    to Cytoplasm.

    Parameters
    ----------
    closure : DataFrame with columns ``term, ancestor, distance``
        Only rows whose ancestor is an anchor are used.
    """

    def __init__(self, closure: pd.DataFrame):
        anchors = closure[closure["ancestor"].isin(GO_ANCHORS.keys())]
        self._ancestors: dict[str, list[tuple[int, str]]] = {}
        for term, ancestor, distance in anchors[["term", "ancestor", "distance"]].itertuples(index=False):
            self._ancestors.setdefault(term, []).append((int(distance), ancestor))
        self._cache: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_file(cls, path: Path) -> GoClassMapper:
        """Read metastudent's ``fullTransitiveClosureGO.txt`` (term, relation, ancestor, distance)."""
        try:
            closure = pd.read_csv(
                path, sep="\t", header=None, names=["term", "relation", "ancestor", "distance"],
                dtype={"term": str, "relation": str, "ancestor": str, "distance": "int32"},
            )
        except (OSError, ValueError) as exc:
            raise PslError(f"{path}: not a readable GO transitive-closure file ({exc})") from None
        return cls(closure)

    def classes(self, term: str) -> tuple[str, ...]:
        """Classes of one GO term, sorted by label id; empty when no anchor is above it."""
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        found = list(self._ancestors.get(term, ()))
        if term in GO_ANCHORS:
            found.append((0, term))
        result: tuple[str, ...] = ()
        if found:
            classes_above = {GO_ANCHORS[a] for _, a in found}
            if classes_above - {"Cytoplasm"}:
                found = [(d, a) for d, a in found if GO_ANCHORS[a] != "Cytoplasm"]
            nearest = min(d for d, _ in found)
            result = tuple(sorted({GO_ANCHORS[a] for d, a in found if d == nearest}, key=CLASS_INDEX.get))
        self._cache[term] = result
        return result

    def locations(self, terms: Iterable[str]) -> list[Location]:
        """:class:`Location` rows for a protein's GO terms (duplicates dropped, order kept)."""
        rows, seen = [], set()
        for term in terms:
            if term in seen:
                continue
            seen.add(term)
            classes = self.classes(term)
            if classes:
                rows.extend(Location(cls, term) for cls in classes)
            else:
                rows.append(Location(None, term))
        return rows
