"""Load parsed records into ``sprot.duckdb``, atomically.

The new index is written to a temporary file in the same folder and renamed over the old one only
when it is complete, so an interrupted or failed build never leaves a broken index and the previous
index stays usable until then.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

import pslindex
from build_index.records import ProteinRecord
from pslindex.errors import PslError, first_line
from pslindex.store import SCHEMA_SQL, SCHEMA_VERSION, index_file

BATCH = 50_000


def _flush(con: duckdb.DuckDBPyConnection, batch: list[ProteinRecord]) -> None:
    proteins = pa.table({
        "accession": [r.accession for r in batch],
        "entry_name": pa.array([r.entry_name for r in batch], pa.string()),
        "organism": pa.array([r.organism for r in batch], pa.string()),
        "lineage": pa.array([r.lineage for r in batch], pa.string()),
        "length": pa.array([len(r.sequence) for r in batch], pa.int32()),
        "sequence": [r.sequence for r in batch],
    })
    locs = [(r.accession, loc) for r in batch for loc in r.locations]
    locations = pa.table({
        "accession": pa.array([a for a, _ in locs], pa.string()),
        "class": pa.array([loc.cls for _, loc in locs], pa.string()),
        "raw_term": pa.array([loc.raw_term for _, loc in locs], pa.string()),
        "evidence": pa.array([loc.evidence for _, loc in locs], pa.string()),
        "isoform": pa.array([loc.isoform for _, loc in locs], pa.string()),
    })
    pairs = [(a, r.accession) for r in batch for a in [r.accession, *r.secondary_accessions]]
    accessions = pa.table({"accession": pa.array([a for a, _ in pairs], pa.string()),
                           "primary_accession": pa.array([p for _, p in pairs], pa.string())})
    for name, table in (("proteins", proteins), ("locations", locations), ("accessions", accessions)):
        con.register("batch", table)
        con.execute(f"INSERT INTO {name} SELECT * FROM batch")  # name is one of our three tables
        con.unregister("batch")


def write_index(records: Iterable[ProteinRecord], out_dir: Path, meta: dict[str, str], *,
                progress: bool = True, total: int | None = None) -> dict[str, int]:
    """Write ``records`` and ``meta`` to ``out_dir/sprot.duckdb``, replacing any index atomically.

    Parameters
    ----------
    records : iterable of ProteinRecord
        Consumed once; an exception raised while iterating aborts the build.
    out_dir : Path
        Index folder, created if needed.
    meta : dict
        Source description; counts, build time, tool and schema version are added.

    Returns
    -------
    dict
        Counts: ``proteins``, ``locations``, ``accessions``, ``proteins_with_class``.

    Raises
    ------
    PslError
        On duplicate accessions, an empty source, or a full disk. The old index is untouched.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = index_file(out_dir)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    started = time.time()
    con = duckdb.connect(str(tmp))
    try:
        con.execute(SCHEMA_SQL)
        batch: list[ProteinRecord] = []
        for record in tqdm(records, desc="load", unit=" proteins", total=total, disable=not progress,
                           mininterval=1.0):
            batch.append(record)
            if len(batch) >= BATCH:
                _flush(con, batch)
                batch = []
        if batch:
            _flush(con, batch)
        counts = {
            "proteins": con.execute("SELECT count(*) FROM proteins").fetchall()[0][0],
            "locations": con.execute("SELECT count(*) FROM locations").fetchall()[0][0],
            "accessions": con.execute("SELECT count(*) FROM accessions").fetchall()[0][0],
            "proteins_with_class": con.execute("SELECT count(*) FROM protein_classes").fetchall()[0][0],
        }
        if counts["proteins"] == 0:
            raise PslError(f"{meta.get('input', 'source')}: no proteins to index")
        dup = con.execute("SELECT accession FROM proteins GROUP BY accession HAVING count(*) > 1 LIMIT 1"
                          ).fetchall()
        if dup:
            raise PslError(f"{meta.get('input', 'source')}: accession {dup[0][0]} occurs twice")
        # A secondary accession can be shared by merged entries: keep one mapping, and an accession that
        # is an entry's own primary always maps to that entry (never to one that lists it as a secondary).
        con.execute("CREATE TABLE acc_dedup AS SELECT accession, CASE WHEN bool_or(accession = primary_accession) "
                    "THEN accession ELSE min(primary_accession) END AS primary_accession "
                    "FROM accessions GROUP BY accession")
        con.execute("DROP TABLE accessions")
        con.execute("ALTER TABLE acc_dedup RENAME TO accessions")
        con.execute("CREATE UNIQUE INDEX proteins_accession ON proteins(accession)")
        con.execute("CREATE INDEX locations_accession ON locations(accession)")
        con.execute("CREATE UNIQUE INDEX accessions_accession ON accessions(accession)")
        full_meta = {**meta, "schema_version": SCHEMA_VERSION, "tool_version": pslindex.__version__,
                     "build_id": uuid.uuid4().hex,  # what derived files (the matcher) check they belong to
                     "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "build_seconds": f"{time.time() - started:.1f}",
                     **{f"count_{k}": str(v) for k, v in counts.items()}}
        con.executemany("INSERT INTO meta VALUES (?, ?)", [[k, str(v)] for k, v in full_meta.items()])
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, final)
    except BaseException as exc:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise PslError(f"{out_dir}: no space left on device while building the index; "
                           "the previous index is untouched") from None
        if isinstance(exc, duckdb.IOException):
            raise PslError(f"{out_dir}: cannot write the index ({first_line(exc)}); "
                           "the previous index is untouched") from None
        raise
    return counts
