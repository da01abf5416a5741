"""Shared paths and fixtures. Test data provenance: tests/data/README.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from build_index.load import write_index
from build_index.uniprot import read_swissprot

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SPROT_FIXTURE = DATA / "uniprot" / "sprot_fixture.dat"
DEBIAN_FIXTURE = DATA / "debian" / "metastudent-data"
SHARED = Path(os.environ.get("PSL_SHARED", REPO.parent / "shared"))


@pytest.fixture
def sprot_index(tmp_path) -> Path:
    """A real index folder built from the Swiss-Prot flat-file fixture."""
    out = tmp_path / "index"
    write_index(read_swissprot(SPROT_FIXTURE), out, {"source": "uniprot-local", "release": "fixture"},
                progress=False)
    return out
