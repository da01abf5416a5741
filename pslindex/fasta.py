"""FASTA header conventions shared by every reader (the model's inputs and the index's sources)."""

from __future__ import annotations


def header_accession(word: str) -> str:
    """The accession a header's first word names: ``sp|P12345|NAME_HUMAN`` -> ``P12345``; else the word.

    >>> header_accession("sp|P12345|AATM_RABIT"), header_accession("tr|A0A023GPI8|LECA_CANBL")
    ('P12345', 'A0A023GPI8')
    >>> header_accession("Q9XYZ1"), header_accession("gi|12345|ref|NP_001")
    ('Q9XYZ1', 'gi|12345|ref|NP_001')
    """
    parts = word.split("|")
    if len(parts) >= 2 and parts[0] in ("sp", "tr") and parts[1]:
        return parts[1]
    return word
