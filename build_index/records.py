"""The record every source parser yields and the index loader consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Location:
    """One annotated location of a protein.

    ``cls`` is one of :data:`pslindex.classes.CLASSES`, or None when the term maps to none of them
    (kept so that SQL over ``raw_term`` can still see it). ``evidence`` is a comma-joined list of
    ECO codes, or None when the source has none. ``isoform`` names the isoform an isoform-specific
    UniProt statement is about (``"Isoform 2"``), else None.
    """

    cls: str | None
    raw_term: str
    evidence: str | None = None
    isoform: str | None = None


@dataclass(slots=True)
class ProteinRecord:
    """One Swiss-Prot entry as stored in the index (SPEC section 4)."""

    accession: str
    sequence: str
    entry_name: str | None = None
    organism: str | None = None
    lineage: str | None = None
    secondary_accessions: list[str] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
