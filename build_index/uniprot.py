"""Swiss-Prot flat files (``uniprot_sprot.dat[.gz]``) parsed with Biopython (SPEC section 4, source 2).

Every ``SUBCELLULAR LOCATION`` statement becomes one :class:`Location`, with its ECO evidence codes
and, for isoform-specific statements (``[Isoform 2]: Nucleus.``), the isoform it is about.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from Bio import SwissProt

from build_index.mapping import uniprot_term_class
from build_index.records import Location, ProteinRecord
from pslindex.classes import ALPHABET
from pslindex.errors import PslError

_ISOFORM = re.compile(r"^\s*\[([^\]]+)\]:\s*")
_ECO = re.compile(r"ECO:\d{7}")
_BRACES = re.compile(r"\{[^}]*\}")
# A statement ends at a period followed by whitespace or the end ("Ref.3" inside braces has none).
_STATEMENT_END = re.compile(r"\.(?:\s+|$)")
_VALID = set(ALPHABET)


def parse_subcellular_location(comment: str) -> list[Location]:
    """Locations in one ``SUBCELLULAR LOCATION`` comment (the text Biopython puts in ``comments``).

    Parameters
    ----------
    comment : str
        ``"SUBCELLULAR LOCATION: [Isoform 2]: Cytoplasm {ECO:...}. Nucleus. Note=..."``; the
        leading label is optional.

    Returns
    -------
    list of Location
        One per statement, in order; the topology after ``;`` is dropped, the ``Note=`` too.

    Examples
    --------
    >>> [(l.cls, l.raw_term, l.evidence) for l in parse_subcellular_location(
    ...     "SUBCELLULAR LOCATION: Cell membrane {ECO:0000269|PubMed:1}; Single-pass membrane "
    ...     "protein. Secreted {ECO:0000250}.")]
    [('Cell.membrane', 'Cell membrane', 'ECO:0000269'), ('Extracellular', 'Secreted', 'ECO:0000250')]
    """
    text = comment.split(":", 1)[1] if comment.startswith("SUBCELLULAR LOCATION") else comment
    isoform = None
    match = _ISOFORM.match(text)
    if match:
        isoform, text = match.group(1).strip(), text[match.end():]
    text = text.split("Note=", 1)[0]
    locations = []
    for statement in _STATEMENT_END.split(text):
        location_part = statement.split(";", 1)[0]
        term = " ".join(_BRACES.sub("", location_part).split())
        if not term:
            continue
        evidence = ",".join(dict.fromkeys(_ECO.findall(location_part))) or None
        locations.append(Location(uniprot_term_class(term), term, evidence, isoform))
    return locations


def _record(entry: SwissProt.Record, path: Path) -> ProteinRecord:
    if not entry.accessions:
        raise PslError(f"{path}: {entry.entry_name}: entry has no accession")
    sequence = entry.sequence
    bad = set(sequence) - _VALID
    if bad:
        raise PslError(f"{path}: {entry.accessions[0]}: unknown residue {sorted(bad)[0]!r} in the sequence")
    locations = []
    for comment in entry.comments:
        if comment.startswith("SUBCELLULAR LOCATION"):
            locations.extend(parse_subcellular_location(comment))
    return ProteinRecord(
        accession=entry.accessions[0],
        sequence=sequence,
        entry_name=entry.entry_name,
        organism=entry.organism.rstrip("."),
        lineage="; ".join(entry.organism_classification),
        secondary_accessions=list(entry.accessions[1:]),
        locations=locations,
    )


def open_text(path: Path) -> IO[str]:
    """Open a plain or gzip-compressed text file (chosen by its magic bytes, not its name)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
    except OSError as exc:
        raise PslError(f"{path}: {exc.strerror}") from None
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="latin-1")
    return open(path, encoding="latin-1")


def read_swissprot(path: Path) -> Iterator[ProteinRecord]:
    """Yield one :class:`ProteinRecord` per entry of a Swiss-Prot flat file, plain or gzipped.

    Raises
    ------
    PslError
        For a file that is not in Swiss-Prot format, a truncated or corrupt gzip stream, or a
        sequence with letters outside the alphabet; the message names the file and the last
        good record.
    """
    path = Path(path)
    last = None
    count = 0
    with open_text(path) as handle:
        try:
            for entry in SwissProt.parse(handle):
                record = _record(entry, path)
                last = record.accession
                count += 1
                yield record
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise PslError(f"{path}: truncated or corrupt gzip stream after {count} records "
                           f"(last {last}): {exc}; download it again") from None
        except (ValueError, SwissProt.SwissProtParserError) as exc:
            where = f"after record {last}" if last else "in the first record"
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PslError(f"{path}: not a valid Swiss-Prot flat file ({where}): {detail}") from None
    if count == 0:
        raise PslError(f"{path}: no Swiss-Prot records found")
