"""A user's own sources: a UniProt TSV export, or a plain FASTA (sequences only, no locations).

``psl index --source uniprot.tsv[.gz]`` indexes a table downloaded from UniProt's website or REST API
(``format=tsv``) with at least the columns ``Entry``, ``Sequence`` and ``Subcellular location [CC]``;
``Entry Name``, ``Organism`` and ``Gene Ontology (cellular component)`` are used when present.
``psl index --source proteome.fasta`` indexes sequences without locations: the peptide search works,
the hit rate refuses (there is nothing to hit).

GO terms in a TSV are mapped to a class only when they are one of SPEC 4's anchor terms themselves
(``nucleus [GO:0005634]``): a TSV carries no ontology to find the anchor above a child term
(``nucleoplasm``), which the Debian source's closure table does.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from Bio import SeqIO

from build_index.mapping import GO_ANCHORS
from build_index.records import Location, ProteinRecord
from build_index.uniprot import open_text, parse_subcellular_location
from pslindex.classes import ALPHABET
from pslindex.errors import PslError, first_line
from pslindex.fasta import header_accession

TSV_REQUIRED = ("Entry", "Sequence", "Subcellular location [CC]")
GO_COLUMN = "Gene Ontology (cellular component)"
_GO_TERM = re.compile(r"\s*(.*?)\s*\[(GO:\d{7})\]\s*")
_VALID = set(ALPHABET)


def sniff(path: Path) -> str:
    """What a local source file is: ``fasta``, ``tsv`` (UniProt export) or ``swissprot`` (flat file).

    Decided from the first non-blank line, before anything is built, so an empty, binary or foreign
    file is one line naming it instead of an index build that finds nothing.
    """
    try:
        with open_text(path) as handle:
            first = next((line for line in handle if line.strip()), "")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise PslError(f"{path}: unreadable ({first_line(exc)}); expected a "
                       "Swiss-Prot flat file, a UniProt TSV export or a FASTA, plain or gzipped") from None
    if not first:
        raise PslError(f"{path}: empty file")
    if first.startswith(">"):
        return "fasta"
    if first.split("\t", 1)[0].strip() == "Entry":
        return "tsv"
    if first.startswith("ID   "):
        return "swissprot"
    raise PslError(f"{path}: not a Swiss-Prot flat file ('ID   ...'), a UniProt TSV export (an 'Entry' "
                   f"column) or a FASTA ('>...'); it starts with {first.strip()[:40]!r}")


def _locations_from_cc(text: str) -> list[Location]:
    # one column may hold several comments, one per isoform: "SUBCELLULAR LOCATION: [Isoform 1]: ..."
    parts = [p for p in re.split(r"SUBCELLULAR LOCATION:", text) if p.strip()]
    return [loc for part in parts for loc in parse_subcellular_location(part)]


def _locations_from_go(text: str) -> list[Location]:
    out = []
    for term in filter(str.strip, text.split(";")):
        match = _GO_TERM.fullmatch(term)
        if match and match.group(2) in GO_ANCHORS:
            out.append(Location(GO_ANCHORS[match.group(2)], f"{match.group(1)} [{match.group(2)}]", "GO"))
    return out


def read_uniprot_tsv(path: Path) -> Iterator[ProteinRecord]:
    """Yield one :class:`ProteinRecord` per row of a UniProt TSV export (plain or gzipped).

    Raises
    ------
    PslError
        A required column missing, an empty accession or sequence, letters outside the alphabet;
        the message names the file, the line and the entry.
    """
    path = Path(path)
    with open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in TSV_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise PslError(f"{path}: not a UniProt TSV export with locations: missing column(s) "
                           f"{', '.join(missing)} (needs {', '.join(TSV_REQUIRED)})")
        for line_no, row in enumerate(reader, 2):
            accession, sequence = (row["Entry"] or "").strip(), (row["Sequence"] or "").strip().upper()
            if not accession or not sequence:
                raise PslError(f"{path}: line {line_no}: {accession or 'a row'} has no "
                               f"{'sequence' if accession else 'Entry'}")
            bad = set(sequence) - _VALID
            if bad:
                raise PslError(f"{path}: line {line_no}: {accession}: unknown residue {sorted(bad)[0]!r}")
            locations = _locations_from_cc(row["Subcellular location [CC]"] or "")
            locations += _locations_from_go(row.get(GO_COLUMN) or "")
            yield ProteinRecord(accession=accession, sequence=sequence,
                                entry_name=(row.get("Entry Name") or None), organism=(row.get("Organism") or None),
                                locations=locations)


def read_plain_fasta(path: Path) -> Iterator[ProteinRecord]:
    """Yield one location-less :class:`ProteinRecord` per FASTA record (Biopython's parser).

    UniProt headers (``>sp|P12345|NAME_HUMAN ...``) give accession and entry name; any other header
    its first word.
    """
    path = Path(path)
    with open_text(path) as handle:
        for record in SeqIO.parse(handle, "fasta"):
            accession = header_accession(record.id)
            sequence = str(record.seq).upper().rstrip("*")
            if not sequence:
                raise PslError(f"{path}: {accession}: empty sequence")
            bad = set(sequence) - _VALID
            if bad:
                raise PslError(f"{path}: {accession}: unknown residue {sorted(bad)[0]!r}")
            parts = record.id.split("|")
            yield ProteinRecord(accession=accession, sequence=sequence,
                                entry_name=parts[2] if len(parts) >= 3 and parts[0] in ("sp", "tr") else None)
