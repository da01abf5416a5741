"""Shared paths and fixtures. Test data provenance: tests/data/README.md."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from build_index.load import write_index
from build_index.uniprot import read_swissprot

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SPROT_FIXTURE = DATA / "uniprot" / "sprot_fixture.dat"
DEBIAN_FIXTURE = DATA / "debian" / "metastudent-data"
SHARED = Path(os.environ.get("PSL_SHARED", REPO.parent / "shared"))

SHARED_OK = (SHARED / "data" / "deeploc").is_dir()


def pytest_collection_modifyitems(config, items):
    """Without the shared data sets, the tests of modules that use them skip (with the reason); the rest run."""
    if SHARED_OK:
        return
    skip = pytest.mark.skip(reason=f"{SHARED}/data/deeploc not found: these tests read the shared data sets "
                                   "from ../shared beside the repository, or from $PSL_SHARED")
    uses_shared = {}
    for item in items:
        path = Path(str(item.fspath))
        if path not in uses_shared:
            uses_shared[path] = "SHARED" in path.read_text()
        if uses_shared[path]:
            item.add_marker(skip)

# The models are small: one thread is faster than two for their many tiny ops, and it keeps runs
# bit-for-bit repeatable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def debian_index(tmp_path_factory) -> Path:
    """The index built from the Debian fixture (66 real proteins), once per session; tests only read it
    (and the homolog cache MMseqs2 fills beside it). A test that damages an index builds its own."""
    from build_index.build import build

    out = tmp_path_factory.mktemp("debian") / "index"
    build(out, source=str(DEBIAN_FIXTURE), progress=False)
    return out


@pytest.fixture
def sprot_index(tmp_path) -> Path:
    """A real index folder built from the Swiss-Prot flat-file fixture."""
    out = tmp_path / "index"
    write_index(read_swissprot(SPROT_FIXTURE), out, {"source": "uniprot-local", "release": "fixture"},
                progress=False)
    return out


def read_deeploc(path: Path, limit: int | None = None, test_only: bool = False) -> list[tuple[str, str, str]]:
    """(accession, label, sequence) from a DeepLoc FASTA, read by the project's one FASTA reader."""
    from pslmodels.data import read_fasta

    rows = [(p.accession, p.label, p.sequence) for p in read_fasta(path) if p.is_test or not test_only]
    return rows[:limit] if limit else rows


def make_attributions(rows, method: str, scores_for, *, pred_for=None) -> pd.DataFrame:
    """An attributions table (SPEC 5) for (accession, label, sequence) rows.

    ``scores_for(i, sequence) -> array``; ``pred_for(i, label) -> predicted label`` (default: correct).
    """
    import numpy as np

    from pslindex.classes import CLASSES

    records = []
    for i, (acc, label, seq) in enumerate(rows):
        pred = pred_for(i, label) if pred_for else label
        probs = np.full(10, 0.01, dtype=np.float32)
        probs[CLASSES.index(pred)] = 0.91
        records.append({"run_id": "test-run", "model": "bilstm-att", "method": method, "accession": acc,
                        "sequence": seq, "true_label": label, "pred_label": pred, "probs": probs.tolist(),
                        "scores": np.asarray(scores_for(i, seq), dtype=np.float32).tolist()})
    return pd.DataFrame.from_records(records)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes: equal snapshots mean nothing was written or changed."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
