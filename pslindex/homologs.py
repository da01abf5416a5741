"""Homologs of query proteins among the index entries (SPEC 9.1), with MMseqs2, cached.

H(P) = every index entry that an MMseqs2 search of P's full sequence finds with E-value <= 1e-3
(default sensitivity 5.7). The prefilter keeps at most ``--max-seqs`` candidates per query (300 by
default in MMseqs2): a protein of a large family (kinases, GPCRs, histones...) has more homologs
than that in Swiss-Prot, and every homolog cut by that cap would count as an independent "hit".
The cap is raised here (``max_seqs``, default 100,000, more than any family in the index), and the
count of homologs found per protein is recorded, so a cap that binds shows (``capped``).

Results are cached by SHA-256 of the query sequence in ``INDEX/homologs/`` (one DuckDB file per
index build, tool version and options), so a protein is searched once, whichever run, method or
control asks, and a user's own sequence works exactly like a DeepLoc one. The cache records tool,
version and thresholds; the hit rate copies them into its results.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pslindex.errors import PslError, first_line
from pslindex.store import index_file, open_index

TOOL = "mmseqs"


@dataclass(frozen=True)
class HomologOptions:
    """What defines H(P): recorded with every result."""

    evalue: float = 1e-3         # SPEC 9.1
    sensitivity: float = 5.7     # MMseqs2's default -s
    max_seqs: int = 100_000      # prefilter cap per query (MMseqs2's default 300 misses large families)
    threads: int = 0             # 0: MMseqs2's default (all cores); not part of the result

    def key(self) -> dict:
        return {"evalue": self.evalue, "sensitivity": self.sensitivity, "max_seqs": self.max_seqs}


def sequence_sha(sequence: str) -> str:
    """SHA-256 hex digest of a sequence (upper case): the cache key of a query."""
    return hashlib.sha256(sequence.upper().encode("ascii")).hexdigest()


def mmseqs_available() -> bool:
    """Whether MMseqs2 is on PATH (so homologs can be left out)."""
    return shutil.which(TOOL) is not None


def mmseqs_version() -> str:
    """The installed MMseqs2's version, or a one-line PslError saying how to install it."""
    exe = shutil.which(TOOL)
    if exe is None:
        raise PslError("mmseqs (MMseqs2) not found on PATH: the homolog search needs it; install Debian's "
                       "package as root (apt-get install mmseqs2; 'make setup' does) or put mmseqs on PATH")
    try:
        out = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PslError(f"{exe}: cannot run ({exc})") from None
    if out.returncode != 0 or not out.stdout.strip():
        raise PslError(f"{exe}: 'mmseqs version' failed ({out.stderr.strip()[:200]})")
    return out.stdout.strip()


def _run(args: list[str], what: str) -> None:
    out = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no message"]
        raise PslError(f"mmseqs {args[0]} failed while {what}: {tail[0][:300]}")


class HomologCache:
    """The homolog search results of one index build, tool version and option set.

    ``INDEX/homologs/targets*`` is the index's sequences as an MMseqs2 database (made once);
    ``INDEX/homologs/cache-<key>.duckdb`` holds ``searched(query_sha)`` and
    ``homologs(query_sha, target, evalue, bits, pident)``; ``info(key, value)`` records the search.
    """

    def __init__(self, index_dir: str | Path, options: HomologOptions = HomologOptions()):
        self.index_dir = Path(index_dir)
        self.options = options
        self.version = mmseqs_version()
        with open_index(self.index_dir) as index:
            self.build_id = index.meta().get("build_id", "unknown")
        self.folder = self.index_dir / "homologs"
        self.info = {"tool": "MMseqs2", "tool_version": self.version, **options.key(), "index_build": self.build_id}
        digest = hashlib.sha256(json.dumps(self.info, sort_keys=True).encode()).hexdigest()[:16]
        self.file = self.folder / f"cache-{digest}.duckdb"

    # -- the cache file ---------------------------------------------------------------------------
    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb.connect(str(self.file), read_only=read_only)
            con.execute("SELECT count(*) FROM searched").fetchall()
            con.execute("SELECT count(*) FROM homologs").fetchall()
            return con
        except duckdb.Error as exc:
            raise PslError(f"{self.file}: damaged homolog cache ({first_line(exc)[:200]}); delete it "
                           "and run again (it is rebuilt)") from None

    def _create(self) -> None:
        self.folder.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".cache.tmp-", suffix=".duckdb", dir=self.folder)
        os.close(fd)
        os.unlink(name)
        con = duckdb.connect(name)
        con.execute("CREATE TABLE info (key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO info VALUES (?, ?)", [[k, str(v)] for k, v in self.info.items()])
        con.execute("CREATE TABLE searched (query_sha VARCHAR PRIMARY KEY, n_homologs INTEGER)")
        con.execute("CREATE TABLE homologs (query_sha VARCHAR, target VARCHAR, evalue DOUBLE, bits DOUBLE, "
                    "pident DOUBLE)")
        con.close()
        os.replace(name, self.file)

    def lookup(self, sequences: dict[str, str], *, progress: bool = False) -> pd.DataFrame:
        """Homologs of ``sequences`` (name -> sequence): columns ``query_sha, target, evalue, bits, pident``.

        Sequences not yet in the cache are searched first (one MMseqs2 run for all of them).
        """
        shas = {sequence_sha(s): s.upper() for s in sequences.values()}
        self.folder.mkdir(exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time; readers wait for a finished search
            if not self.file.is_file():
                self._create()
            con = self._connect(read_only=False)
            try:
                con.register("wanted", pd.DataFrame({"query_sha": list(shas)}))
                missing = [r[0] for r in con.execute(
                    "SELECT query_sha FROM wanted ANTI JOIN searched USING (query_sha)").fetchall()]
                if missing:
                    found = self._search({sha: shas[sha] for sha in missing}, progress=progress)
                    counts = found.groupby("query_sha").size()
                    searched = pd.DataFrame({"query_sha": missing,
                                             "n_homologs": [int(counts.get(s, 0)) for s in missing]})
                    con.execute("BEGIN")
                    con.register("found_df", found)
                    con.execute("INSERT INTO homologs SELECT query_sha, target, evalue, bits, pident FROM found_df")
                    con.register("searched_df", searched)
                    con.execute("INSERT INTO searched SELECT * FROM searched_df")
                    con.execute("COMMIT")
                return con.execute("SELECT h.* FROM homologs h SEMI JOIN wanted USING (query_sha) "
                                   "ORDER BY query_sha, evalue, target").df()
            finally:
                con.close()

    def capped(self) -> int:
        """How many searched queries reached the prefilter cap (their homolog lists may be incomplete)."""
        con = self._connect(read_only=True)
        try:
            return con.execute("SELECT count(*) FROM searched WHERE n_homologs >= ?",
                               [self.options.max_seqs]).fetchall()[0][0]
        finally:
            con.close()

    # -- MMseqs2 ---------------------------------------------------------------------------------
    def _targets(self) -> Path:
        """The index's sequences as an MMseqs2 database, made once per index build."""
        db = self.folder / f"targets-{self.build_id}"
        if (self.folder / f"targets-{self.build_id}.done").is_file():
            return db
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            fasta = Path(tmp) / "targets.fasta"
            con = duckdb.connect(str(index_file(self.index_dir)), read_only=True)
            try:
                with open(fasta, "w") as out:
                    cursor = con.execute("SELECT accession, sequence FROM proteins ORDER BY accession")
                    while rows := cursor.fetchmany(50_000):
                        out.writelines(f">{a}\n{s}\n" for a, s in rows)
            finally:
                con.close()
            _run(["createdb", str(fasta), str(db), "-v", "1"], "making the target database")
        (self.folder / f"targets-{self.build_id}.done").write_text("ok\n")
        return db

    def _search(self, queries: dict[str, str], *, progress: bool = False) -> pd.DataFrame:
        targets = self._targets()
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            tmp = Path(tmp)
            fasta = tmp / "queries.fasta"
            fasta.write_text("".join(f">{sha}\n{seq}\n" for sha, seq in queries.items()))
            threads = ["--threads", str(self.options.threads)] if self.options.threads else []
            verbosity = ["-v", "2" if progress else "1"]
            _run(["createdb", str(fasta), str(tmp / "q"), *verbosity], "reading the queries")
            _run(["search", str(tmp / "q"), str(targets), str(tmp / "aln"), str(tmp / "work"),
                  "-e", str(self.options.evalue), "-s", str(self.options.sensitivity),
                  "--max-seqs", str(self.options.max_seqs), *threads, *verbosity], "searching")
            _run(["convertalis", str(tmp / "q"), str(targets), str(tmp / "aln"), str(tmp / "aln.tsv"),
                  "--format-output", "query,target,evalue,bits,pident", *threads, *verbosity], "writing results")
            found = pd.read_csv(tmp / "aln.tsv", sep="\t", header=None,
                                names=["query_sha", "target", "evalue", "bits", "pident"],
                                dtype={"query_sha": str, "target": str})
        # several local alignments of one pair: keep the best
        return (found.sort_values(["query_sha", "target", "evalue"]).drop_duplicates(["query_sha", "target"])
                .reset_index(drop=True))

    def record(self) -> dict:
        """Tool, version and thresholds, as written into every result that used this cache."""
        return {k: str(v) for k, v in {**self.info, "cache": str(self.file)}.items()}


def find_homologs(sequences: dict[str, str], index_dir: str | Path,
                  options: HomologOptions = HomologOptions(), *, progress: bool = False) -> pd.DataFrame:
    """H(P) for each named sequence: columns ``name, query_sha, target, evalue, bits, pident``.

    >>> find_homologs({"P12345": "MKV..."}, "data/index")     # doctest: +SKIP
    """
    cache = HomologCache(index_dir, options)
    found = cache.lookup(sequences, progress=progress)
    names = pd.DataFrame({"name": list(sequences), "query_sha": [sequence_sha(s) for s in sequences.values()]})
    return names.merge(found, on="query_sha", how="inner")


__all__ = ["HomologOptions", "HomologCache", "find_homologs", "sequence_sha", "mmseqs_version"]
