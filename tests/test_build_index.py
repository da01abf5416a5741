"""The index build end to end on real slices, and what happens when it goes wrong."""

import errno
import gzip
import subprocess
import sys

import pytest

from build_index import __main__ as cli
from build_index.load import write_index
from build_index.uniprot import read_swissprot
from conftest import DEBIAN_FIXTURE, REPO, SPROT_FIXTURE
from pslindex import open_index
from pslindex.errors import PslError
from pslindex.files import OUTPUT_MARKER


def test_index_api(sprot_index):
    with open_index(sprot_index) as index:
        assert index.locations("P31040") == ["Mitochondrion"]
        assert index.locations("P04637") == ["Nucleus", "Cytoplasm", "Mitochondrion", "Endoplasmic.reticulum"]
        assert index.locations("P69905") == []
        assert index.sequence("Q15086") == index.sequence("P04637")      # secondary accession
        assert index.primary_accession("Q15086") == "P04637"
        with pytest.raises(KeyError):
            index.sequence("NOPE00")
        df = index.sql("SELECT accession, organism FROM proteins WHERE length > ? ORDER BY accession", [400])
        assert list(df.accession) == ["P21579", "P31040"]
        classes = index.sql("SELECT classes FROM protein_classes WHERE accession = ?", ["P00441"]).classes[0]
        assert sorted(classes) == ["Cytoplasm", "Mitochondrion", "Nucleus"]
        counts = index.class_counts().set_index("class").proteins
        assert counts["Cytoplasm"] == 3 and counts["Peroxisome"] == 0
        meta = index.meta()
        assert meta["release"] == "fixture" and meta["count_proteins"] == "7"


def test_cli_builds_from_debian_folder_and_info(tmp_path, capsys):
    out = tmp_path / "index"
    assert cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Mitochondrion" in printed
    from pslindex import info
    assert info.main([str(out)]) == 0
    shown = capsys.readouterr().out
    assert "source:         debian" in shown and "dataversion 201401" in shown
    assert "proteins: 66 (60 with at least one class)" in shown


def _build_good(out):
    assert cli.main(["--source", str(SPROT_FIXTURE), "--out", str(out), "--quiet"]) == 0


def _assert_intact(out):
    with open_index(out) as index:
        assert index.meta()["count_proteins"] == "7"
        assert index.locations("P31040") == ["Mitochondrion"]
    hidden = [p.name for p in [*out.iterdir(), *out.parent.iterdir()] if p.name.startswith(".")]
    assert set(hidden) <= {OUTPUT_MARKER, f".{out.name}.lock"}   # no temp files left behind


def test_truncated_download_keeps_previous_index(tmp_path, capsys):
    out = tmp_path / "index"
    _build_good(out)
    data = gzip.compress(SPROT_FIXTURE.read_bytes())
    bad = tmp_path / "uniprot_sprot.dat.gz"
    bad.write_bytes(data[: len(data) * 2 // 3])
    assert cli.main(["--source", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "truncated or corrupt gzip stream" in err
    _assert_intact(out)


def test_exception_mid_load_keeps_previous_index(tmp_path):
    out = tmp_path / "index"
    _build_good(out)

    def killed_after_three():
        for i, record in enumerate(read_swissprot(SPROT_FIXTURE)):
            if i == 3:
                raise RuntimeError("killed")
            yield record

    with pytest.raises(RuntimeError, match="killed"):
        write_index(killed_after_three(), out, {"source": "test"}, progress=False)
    _assert_intact(out)


def test_full_disk_is_a_clear_error(tmp_path):
    out = tmp_path / "index"
    _build_good(out)

    def disk_full():
        yield from list(read_swissprot(SPROT_FIXTURE))[:2]
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(PslError, match="no space left on device .* previous index is untouched"):
        write_index(disk_full(), out, {"source": "test"}, progress=False)
    _assert_intact(out)


@pytest.mark.parametrize("args, message", [
    (["--source", "nonsense"], "--source 'nonsense' is not a source; use auto, uniprot, debian or a file path"),
    (["--source", "missing/uniprot_sprot.dat.gz"], "missing/uniprot_sprot.dat.gz: no such file or folder"),
])
def test_bad_source_one_line_no_traceback(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "build_index", *args, "--out", str(tmp_path / "i")],
                            capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert not (tmp_path / "i" / "sprot.duckdb").exists()


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(PslError, match=r"sprot\.duckdb: no index here; build it with 'make index'"):
        open_index(tmp_path)


def test_not_an_index(tmp_path):
    (tmp_path / "sprot.duckdb").write_text("hello")
    with pytest.raises(PslError, match="not a readable index"):
        open_index(tmp_path)


@pytest.mark.slow
def test_full_debian_index(tmp_path):
    """`make index` on a machine without internet: the Debian source end to end (~1 min)."""
    out = REPO / "data" / "index"
    if not (out / "sprot.duckdb").is_file():
        assert cli.main(["--source", "debian", "--out", str(out), "--quiet",
                         "--download-dir", str(REPO / "data" / "downloads")]) == 0
    with open_index(out) as index:
        meta = index.meta()
        assert meta["source"] == "debian"
        assert int(meta["count_proteins"]) >= 390_000
        assert index.locations("P31040") == ["Mitochondrion"]
        assert "Peroxisome" in index.locations("P04040")


def test_rebuild_keeps_the_homolog_cache_it_did_not_write(tmp_path):
    """The hit rate caches MMseqs2 results in INDEX/homologs; a new build carries them over, never deletes them."""
    out = tmp_path / "index"
    assert cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    (out / "homologs").mkdir()
    (out / "homologs" / "cache-0123.duckdb").write_bytes(b"someone else's results")
    assert cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    assert (out / "homologs" / "cache-0123.duckdb").read_bytes() == b"someone else's results"
    leftovers = list(tmp_path.glob(".index.tmp-*")) + list(tmp_path.glob(".index.old-*"))
    assert (out / "sprot.duckdb").is_file() and not leftovers
