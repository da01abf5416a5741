"""The Swiss-Prot location index: schema, and the read-only Python API over it.

The index is one DuckDB file, ``sprot.duckdb``, inside an index folder (default ``data/index/``):

``proteins(accession, entry_name, organism, lineage, length, sequence)``
    One row per Swiss-Prot entry, keyed by its primary accession.
``locations(accession, class, raw_term, evidence, isoform)``
    One row per annotated location term; ``class`` is a DeepLoc class or NULL when the term maps
    to none; ``evidence`` holds ECO codes (UniProt source); ``isoform`` is set for
    isoform-specific UniProt statements.
``accessions(accession, primary_accession)``
    Every accession (primary and secondary) -> the entry's primary accession.
``meta(key, value)``
    Source, release, checksums, build time, tool and schema version, counts.
``protein_classes(accession, classes)`` (view)
    The SET of classes of each protein with at least one, as a sorted list.

Other files in the folder (the peptide matcher's arrays) sit beside the DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pslindex.classes import CLASS_INDEX, CLASSES
from pslindex.errors import PslError, first_line

SCHEMA_VERSION = "1"
INDEX_FILE = "sprot.duckdb"
DEFAULT_INDEX_DIR = Path("data/index")

SCHEMA_SQL = """
CREATE TABLE proteins (accession VARCHAR NOT NULL, entry_name VARCHAR, organism VARCHAR,
                       lineage VARCHAR, length INTEGER NOT NULL, sequence VARCHAR NOT NULL);
CREATE TABLE locations (accession VARCHAR NOT NULL, class VARCHAR, raw_term VARCHAR NOT NULL,
                        evidence VARCHAR, isoform VARCHAR);
CREATE TABLE accessions (accession VARCHAR NOT NULL, primary_accession VARCHAR NOT NULL);
CREATE TABLE meta (key VARCHAR NOT NULL, value VARCHAR);
CREATE VIEW protein_classes AS
    SELECT accession, list_sort(list(DISTINCT class)) AS classes
    FROM locations WHERE class IS NOT NULL GROUP BY accession;
"""


def index_file(path: str | Path) -> Path:
    """The DuckDB file of an index given its folder or the file itself."""
    path = Path(path)
    return path / INDEX_FILE if path.suffix != ".duckdb" else path


class Index:
    """A read-only handle on a built index. Use :func:`open_index` to get one.

    Examples
    --------
    >>> index = open_index("data/index")                      # doctest: +SKIP
    >>> index.locations("P31040")                             # doctest: +SKIP
    ['Mitochondrion']
    >>> index.sql("SELECT count(*) AS n FROM proteins")       # doctest: +SKIP
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection):
        self.path = path
        self.con = con

    def sql(self, query: str, params: list | tuple | None = None) -> pd.DataFrame:
        """Run one SQL statement with ``?`` placeholders bound to ``params``; return a DataFrame."""
        return self.con.execute(query, params or []).df()

    def meta(self) -> dict[str, str]:
        """The ``meta`` table as a dict."""
        return dict(self.con.execute("SELECT key, value FROM meta").fetchall())

    def _first(self, query: str, params: list) -> tuple | None:
        # fetchall, not fetchone: DuckDB refuses new work on a connection with an unfinished result.
        rows = self.con.execute(query, params).fetchall()
        return rows[0] if rows else None

    def primary_accession(self, accession: str) -> str | None:
        """The primary accession for any (primary or secondary) accession, or None if unknown."""
        row = self._first("SELECT primary_accession FROM accessions WHERE accession = ?", [accession])
        return row[0] if row else None

    def _primary(self, accession: str) -> str:
        primary = self.primary_accession(accession)
        if primary is None:
            raise KeyError(accession)
        return primary

    def sequence(self, accession: str) -> str:
        """The sequence of an entry. Raises KeyError for an unknown accession."""
        return self._first("SELECT sequence FROM proteins WHERE accession = ?", [self._primary(accession)])[0]

    def locations(self, accession: str) -> list[str]:
        """The entry's DeepLoc classes in label-id order (empty: no mapped location)."""
        rows = self.con.execute(
            "SELECT DISTINCT class FROM locations WHERE accession = ? AND class IS NOT NULL",
            [self._primary(accession)]).fetchall()
        return sorted((r[0] for r in rows), key=CLASS_INDEX.__getitem__)

    def class_counts(self) -> pd.DataFrame:
        """Proteins per class (a protein with several classes counts in each), in label-id order."""
        counts = dict(self.con.execute(
            "SELECT class, count(DISTINCT accession) FROM locations WHERE class IS NOT NULL GROUP BY class"
        ).fetchall())
        return pd.DataFrame({"class": list(CLASSES), "proteins": [counts.get(c, 0) for c in CLASSES]})

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_index(path: str | Path = DEFAULT_INDEX_DIR) -> Index:
    """Open an index folder (or its ``sprot.duckdb``) read-only.

    Raises
    ------
    PslError
        If the index is missing, is not a DuckDB file, or was built with another schema version.
    """
    file = index_file(path)
    if not file.is_file():
        raise PslError(f"{file}: no index here; build it with 'make index' (or python -m build_index)")
    try:
        con = duckdb.connect(str(file), read_only=True)
        version = (con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() or [None])[0]
    except duckdb.Error as exc:
        raise PslError(f"{file}: not a readable index ({first_line(exc)}); rebuild it: python -m build_index --out "
                       f"{file.parent}") from None
    if version is None or version[0] != SCHEMA_VERSION:
        con.close()
        found = version[0] if version else "none"
        raise PslError(f"{file}: index schema version {found}, this tool needs {SCHEMA_VERSION}; rebuild it "
                       "with 'make index'")
    return Index(file, con)
