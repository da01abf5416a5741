import shutil
import struct
import subprocess

import pytest

from build_index.debian import CCO_PREFIX, debian_records, read_blastdb, unpack_deb
from conftest import DEBIAN_FIXTURE
from pslindex.errors import PslError


def test_blastdb_slice():
    db = read_blastdb(DEBIAN_FIXTURE / CCO_PREFIX)
    assert len(db) == 66
    assert db.title == "dataset_201401/CCO/goasp.fasta"
    assert db.titles[0].startswith("C6DJ78|GO:0005737")
    assert db.sequence(0).startswith("MSENQQINQKQQYNLNKLQKRLRRNVGEAIADFNMIEEGDRIMVCLSGGK")
    assert sum(len(db.sequence(i)) for i in range(len(db))) == 25862


def test_hand_checked_entries():
    records = {r.accession: r for r in debian_records(DEBIAN_FIXTURE)}
    classes = {acc: {loc.cls for loc in r.locations if loc.cls} for acc, r in records.items()}
    # SDHA: mitochondrial inner membrane and matrix only -> Mitochondrion, NOT also Cytoplasm.
    assert classes["P31040"] == {"Mitochondrion"}
    # HSP60: mitochondrial, and annotated to the cytoplasm directly -> both.
    assert {"Mitochondrion", "Cytoplasm"} <= classes["P10809"]
    assert classes["P07267"] == {"Lysosome/Vacuole"}      # yeast vacuolar protease A
    assert classes["Q9EP78"] == {"Golgi.apparatus"}
    assert classes["Q02Q08"] == {"Cell.membrane"}
    assert "Peroxisome" in classes["P04040"]              # catalase
    assert "Plastid" in classes["P10795"]                 # RuBisCO small subunit
    assert "Extracellular" in classes["P01308"]           # insulin
    assert "Endoplasmic.reticulum" in classes["P11021"]   # BiP
    assert classes["Q3STL0"] == set()                     # kept, but without a location
    assert len(records["P04637"].sequence) == 393


def _copy_fixture(tmp_path):
    dst = tmp_path / "metastudent-data"
    shutil.copytree(DEBIAN_FIXTURE, dst)
    return dst, dst / CCO_PREFIX


def test_truncated_sequence_file(tmp_path):
    _, prefix = _copy_fixture(tmp_path)
    psq = prefix.with_suffix(".fasta.psq")
    psq.write_bytes(psq.read_bytes()[:1000])
    with pytest.raises(PslError, match=r"goasp\.fasta\.psq: 1000 bytes, the index says \d+ \(truncated\?\)"):
        read_blastdb(prefix)


def test_wrong_version_and_missing_file(tmp_path):
    _, prefix = _copy_fixture(tmp_path)
    pin = prefix.with_suffix(".fasta.pin")
    pin.write_bytes(struct.pack(">I", 5) + pin.read_bytes()[4:])
    with pytest.raises(PslError, match="BLAST database version 5, expected 4"):
        read_blastdb(prefix)
    pin.unlink()
    with pytest.raises(PslError, match=r"goasp\.fasta\.pin: missing BLAST database file"):
        read_blastdb(prefix)


@pytest.fixture
def fixture_deb(tmp_path):
    """A real .deb (built with dpkg-deb) holding the fixture slice at the package's paths."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not available")
    pkg = tmp_path / "pkg"
    shutil.copytree(DEBIAN_FIXTURE, pkg / "usr/share/metastudent-data")
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN/control").write_text("Package: metastudent-data\nVersion: 2.0.1-8\nArchitecture: all\n"
                                        "Maintainer: test <t@example.org>\nDescription: fixture slice\n")
    deb = tmp_path / "metastudent-data_2.0.1-8_all.deb"
    subprocess.run(["dpkg-deb", "-Zxz", "--build", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


def test_unpack_deb(fixture_deb, tmp_path):
    root = unpack_deb(fixture_deb, tmp_path / "unpacked")
    assert len(list(debian_records(root))) == 66
    assert not (tmp_path / "unpacked.partial").exists()


def test_truncated_deb(fixture_deb, tmp_path):
    data = fixture_deb.read_bytes()
    fixture_deb.write_bytes(data[: len(data) - 2000])
    with pytest.raises(PslError, match="damaged package archive|truncated package"):
        unpack_deb(fixture_deb, tmp_path / "unpacked")
    assert not (tmp_path / "unpacked").exists()
    assert not (tmp_path / "unpacked.partial").exists()
