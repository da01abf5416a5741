"""Regenerate ``uniprot_export.tsv`` and ``proteome.fasta`` from ``sprot_fixture.dat`` (run from the repository root).

The TSV has the layout of a UniProt TSV export (website "Download" or REST ``format=tsv`` with the
fields accession, id, organism_name, sequence, cc_subcellular_location): the same column names, and
the subcellular-location comments as one text per entry, "SUBCELLULAR LOCATION: ..." comments
joined by a space, the way UniProt writes that column. The FASTA holds the same entries with UniProt
headers (``>sp|ACC|NAME ...``), wrapped at 60, as UniProt's FASTA download does.
"""

from pathlib import Path

from Bio import SwissProt

HERE = Path(__file__).resolve().parent
COLUMNS = ("Entry", "Entry Name", "Organism", "Sequence", "Subcellular location [CC]")

with open(HERE / "sprot_fixture.dat") as handle:
    entries = list(SwissProt.parse(handle))
rows = ["\t".join(COLUMNS)]
fasta = []
for e in entries:
    cc = " ".join(c for c in e.comments if c.startswith("SUBCELLULAR LOCATION"))
    rows.append("\t".join((e.accessions[0], e.entry_name, e.organism.rstrip("."), e.sequence, cc)))
    fasta.append(f">sp|{e.accessions[0]}|{e.entry_name} {e.description.split(';')[0].replace('RecName: Full=', '')} "
                 f"OS={e.organism.rstrip('.')}")
    fasta += [e.sequence[i:i + 60] for i in range(0, len(e.sequence), 60)]
(HERE / "uniprot_export.tsv").write_text("\n".join(rows) + "\n")
(HERE / "proteome.fasta").write_text("\n".join(fasta) + "\n")
