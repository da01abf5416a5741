import gzip

import pytest

from build_index.uniprot import parse_subcellular_location, read_swissprot
from conftest import SPROT_FIXTURE
from pslindex.errors import PslError


def test_parse_statements_evidence_topology_and_note():
    comment = ("SUBCELLULAR LOCATION: Cell membrane {ECO:0000269|PubMed:16702602, ECO:0000269|Ref.3}; "
               "Multi-pass membrane protein {ECO:0000255}. Secreted. Note=Shed from the surface. "
               "{ECO:0000269|PubMed:1}.")
    got = [(loc.cls, loc.raw_term, loc.evidence, loc.isoform) for loc in parse_subcellular_location(comment)]
    assert got == [("Cell.membrane", "Cell membrane", "ECO:0000269", None),
                   ("Extracellular", "Secreted", None, None)]


def test_parse_isoform_specific():
    got = parse_subcellular_location("SUBCELLULAR LOCATION: [Isoform 2]: Mitochondrion matrix "
                                     "{ECO:0000250|UniProtKB:P1}. Cytoplasm, cytosol.")
    assert [(loc.cls, loc.isoform, loc.evidence) for loc in got] == [
        ("Mitochondrion", "Isoform 2", "ECO:0000250"), ("Cytoplasm", "Isoform 2", None)]


def test_read_fixture_records():
    records = {r.accession: r for r in read_swissprot(SPROT_FIXTURE)}
    assert list(records) == ["P04637", "P01308", "P31040", "P00441", "P10795", "P21579", "P69905"]
    p53 = records["P04637"]
    assert p53.entry_name == "P53_HUMAN"
    assert p53.organism == "Homo sapiens (Human)"
    assert p53.lineage.startswith("Eukaryota; Metazoa; Chordata") and p53.lineage.endswith("Homo")
    assert p53.secondary_accessions == ["Q15086", "Q15087", "Q15088", "Q16535", "Q16807"]
    assert len(p53.sequence) == 393 and p53.sequence.startswith("MEEPQSDPSVEPPLSQ")
    # multi-location, every statement counted, evidence kept
    assert {loc.cls for loc in p53.locations} == {"Cytoplasm", "Nucleus", "Endoplasmic.reticulum", "Mitochondrion"}
    matrix = [loc for loc in p53.locations if loc.raw_term == "Mitochondrion matrix"]
    assert matrix[0].evidence == "ECO:0000269"
    assert [loc.isoform for loc in p53.locations].count("Isoform 2") == 2
    assert [(loc.cls, loc.raw_term) for loc in records["P01308"].locations] == [("Extracellular", "Secreted")]
    assert [loc.cls for loc in records["P31040"].locations] == ["Mitochondrion"]
    assert records["P69905"].locations == []


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress(SPROT_FIXTURE.read_bytes())
    truncated = tmp_path / "uniprot_sprot.dat.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PslError, match=r"uniprot_sprot\.dat\.gz: truncated or corrupt gzip stream after \d+ records"):
        list(read_swissprot(truncated))


def test_fasta_is_not_swissprot(tmp_path):
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">P04637 Nucleus-U\nMEEPQSDPSV\n")
    with pytest.raises(PslError, match=r"x\.fasta: not a valid Swiss-Prot flat file"):
        list(read_swissprot(fasta))


def test_unknown_residue_names_the_record(tmp_path):
    text = SPROT_FIXTURE.read_text().replace("MEEPQSDPSV", "MEEPQJDPSV", 1)
    bad = tmp_path / "bad.dat"
    bad.write_text(text)
    with pytest.raises(PslError, match=r"bad\.dat: P04637: unknown residue 'J'"):
        list(read_swissprot(bad))


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_text("")
    with pytest.raises(PslError, match="no Swiss-Prot records"):
        list(read_swissprot(empty))
