"""``python -m pslmodels.planted --out data/planted [--index data/index] [--seed 0]``: the planted motif (SPEC 11.2).

A positive control with a known answer. For each of the ten classes a fixed 6-mer that occurs in no
index entry (nor in any DeepLoc protein) is inserted at a uniformly random position (any of the
L + 1 gaps) into a random half of that class's DeepLoc proteins, training and test alike, labels
unchanged; the index gets a copy in which the same 6-mers are inserted into a random 1 % of the
entries annotated with that class. A model trained on the planted data can read the class off the
motif, so the attribution methods run on it must find the planted residues: pointing and AUPRC
against them (plausibility with ``--signals`` the planted file), the deletion effect (SPEC 12), and
the hit-rate verdict of SPEC 9 above 0 against the planted index. A method that misses a planted
motif is not evidence about real ones.

The folder written (as a whole, replacing only a previous one of this command)::

    deeploc_planted.fasta.gz   the DeepLoc copy: same headers, planted sequences
    planted.csv.gz             the planted residues in the sorting-signal format (ACC, Sequence,
                               AnnotEncoded: 1 on the 6 planted residues, else 0), read by
                               ``--signals`` of the hit-rate and plausibility stages (oracle-signal
                               then scores the motif)
    motifs.json                class -> 6-mer, the seed, the counts
    index/                     the index copy (sprot.duckdb with the planted entries, its matcher)

``make planted`` builds it and runs the study's workflow on it (config/planted.yaml): bilstm-att
and cnn3-5-7-11-att trained for a few epochs, every analysis, kept in reports/study/planted/; the
report's "Planted motif" table comes from there. Motifs inserted past residue 500 of a protein
longer than 1,000 lie in the middle the models never see (SPEC 3): those proteins count as
unplanted for the accuracy and drop out of pointing and AUPRC (no planted residue seen).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import output_folder, write_json
from pslindex.matcher import KmerIndex, build_matcher
from pslindex.store import DEFAULT_INDEX_DIR, INDEX_FILE
from pslmodels.data import DEEPLOC_FASTA, MAX_LEN, read_fasta

MOTIF_LENGTH = 6
PLANTED_SHARE = 0.5        # of each class's DeepLoc proteins
INDEX_SHARE = 0.01         # of each class's index entries
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
DATA_FILE = "deeploc_planted.fasta.gz"
TRUTH_FILE = "planted.csv.gz"
MOTIFS_FILE = "motifs.json"
INDEX_DIR = "index"
PLANTED_CODE = 1           # the digit of a planted residue in AnnotEncoded


def draw_motifs(absent_from, *, seed: int, classes=CLASSES) -> dict[str, str]:
    """One distinct random 6-mer per class (seeded) for which ``absent_from(motif)`` is true.

    >>> motifs = draw_motifs(lambda m: "A" not in m, seed=0, classes=["Nucleus", "Cytoplasm"])
    >>> sorted(motifs), all(len(m) == 6 and "A" not in m for m in motifs.values())
    (['Cytoplasm', 'Nucleus'], True)
    >>> motifs == draw_motifs(lambda m: "A" not in m, seed=0, classes=["Nucleus", "Cytoplasm"])
    True
    """
    rng = np.random.default_rng(seed)
    letters = np.array(list(AMINO_ACIDS))
    motifs: dict[str, str] = {}
    for name in classes:
        for _ in range(100_000):
            motif = "".join(rng.choice(letters, MOTIF_LENGTH))
            if motif not in motifs.values() and absent_from(motif):
                motifs[name] = motif
                break
        else:
            raise PslError(f"no {MOTIF_LENGTH}-mer absent from the index found for {name}")
    return motifs


def insert(sequence: str, motif: str, rng: np.random.Generator) -> tuple[str, int]:
    """``sequence`` with ``motif`` inserted at a uniformly random gap (0 .. len), and where it starts.

    >>> insert("MKLV", "WW", np.random.default_rng(0))
    ('MKLVWW', 4)
    """
    at = int(rng.integers(0, len(sequence) + 1))
    return sequence[:at] + motif + sequence[at:], at


def plant_proteins(proteins, motifs: dict[str, str], *, seed: int, share: float = PLANTED_SHARE) -> pd.DataFrame:
    """The planted copy of ``proteins`` (:class:`pslmodels.data.Protein`): one row per protein in input order,
    with ``accession``, ``header``, ``label``, ``is_test``, ``sequence`` (planted or not) and ``start``
    (the motif's first residue, -1 where none was planted). Per class, in the order of ``motifs``, a
    seeded random ``share`` of its proteins (rounded down) gets its motif."""
    rng = np.random.default_rng(seed)
    labels = np.array([p.label for p in proteins])
    sequences = [p.sequence for p in proteins]
    starts = np.full(len(proteins), -1, dtype=np.int64)
    for name, motif in motifs.items():
        members = np.flatnonzero(labels == name)
        for i in np.sort(rng.permutation(members)[: int(len(members) * share)]):
            sequences[i], starts[i] = insert(sequences[i], motif, rng)
    return pd.DataFrame({"accession": [p.accession for p in proteins], "header": [p.header for p in proteins],
                         "label": labels, "is_test": [p.is_test for p in proteins], "sequence": sequences,
                         "start": starts})


def motif_seen(start: int, length: int, max_len: int = MAX_LEN) -> bool:
    """Whether a motif starting at ``start`` of a (planted) sequence of ``length`` lies wholly in the residues a
    model sees (SPEC 3: the first and last ``max_len / 2`` of a longer sequence).

    >>> motif_seen(10, 2000), motif_seen(700, 2000), motif_seen(1600, 2000), motif_seen(497, 2000)
    (True, False, True, False)
    """
    half = max_len // 2
    return length <= max_len or start + MOTIF_LENGTH <= half or start >= length - half


def truth_codes(sequence: str, start: int) -> str:
    """AnnotEncoded of a planted protein: ``PLANTED_CODE`` on the motif's residues, 0 elsewhere.

    >>> truth_codes("MKLWWWWWWV", 3)
    '0001111110'
    """
    codes = np.zeros(len(sequence), dtype=np.uint8)
    codes[start:start + MOTIF_LENGTH] = PLANTED_CODE
    return "".join(map(str, codes))


def plant_index(source: Path, out: Path, motifs: dict[str, str], *, seed: int, share: float = INDEX_SHARE) -> dict:
    """Copy the index in ``source`` to ``out`` with each motif inserted into a seeded random ``share`` of the
    entries annotated with its class (an entry is planted once, for the first class that draws it), a new
    build id, and its own matcher. Returns the number of planted entries per class."""
    shutil.copy2(source / INDEX_FILE, out / INDEX_FILE)
    rng = np.random.default_rng(seed + 1)
    counts, rows, taken = {}, [], set()
    with duckdb.connect(str(out / INDEX_FILE)) as con:
        for name, motif in motifs.items():
            members = [a for (a,) in con.execute(
                "SELECT accession FROM protein_classes WHERE list_contains(classes, ?) ORDER BY accession",
                [name]).fetchall() if a not in taken]
            chosen = sorted(rng.choice(len(members), max(1, round(len(members) * share)), replace=False))
            picked = [members[i] for i in chosen]
            taken.update(picked)
            old = dict(con.execute("SELECT accession, sequence FROM proteins WHERE list_contains(?, accession)",
                                         [picked]).fetchall())
            rows += [(a, insert(old[a], motif, rng)[0]) for a in picked]
            counts[name] = len(picked)
        planted = pd.DataFrame(rows, columns=["accession", "sequence"])  # noqa: F841 (read by DuckDB below)
        con.execute("UPDATE proteins SET sequence = planted.sequence, length = length(planted.sequence) "
                          "FROM planted WHERE proteins.accession = planted.accession")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        build_id = hashlib.md5(f"{meta.get('build_id')} {json.dumps(motifs, sort_keys=True)} {seed}".encode()
                               ).hexdigest()
        for key, value in (("build_id", build_id), ("release", f"{meta.get('release')}, planted motifs (SPEC 11.2, "
                                                                f"seed {seed})")):
            con.execute("UPDATE meta SET value = ? WHERE key = ?", [value, key])
    build_matcher(out)
    return counts


def make_planted(out: str | Path, *, index: str | Path = DEFAULT_INDEX_DIR, data: str | Path = DEEPLOC_FASTA,
                 seed: int = 0) -> Path:
    """Write the planted benchmark's folder ``out`` (module docstring) from the index in ``index`` and the
    DeepLoc FASTA ``data``; returns ``out``."""
    index, out = Path(index), Path(out)
    proteins = read_fasta(data)
    matcher = KmerIndex.load(index)  # refuses a missing or stale index in one line
    deeploc = "\n".join(p.sequence for p in proteins)
    motifs = draw_motifs(lambda m: m not in deeploc and matcher.find([m]).empty, seed=seed)
    planted = plant_proteins(proteins, motifs, seed=seed)
    with output_folder(out, "pslmodels.planted") as tmp:
        text = "".join(f">{h}\n{s}\n" for h, s in zip(planted.header, planted.sequence, strict=True))
        (tmp / DATA_FILE).write_bytes(gzip.compress(text.encode("ascii"), mtime=0))  # same seed, same bytes
        hit = planted[planted.start >= 0]
        pd.DataFrame({"ACC": hit.accession, "Kingdom": "planted", "Sequence": hit.sequence,
                      "AnnotEncoded": [truth_codes(s, a) for s, a in zip(hit.sequence, hit.start, strict=True)]}
                     ).to_csv(tmp / TRUTH_FILE, index=False)
        (tmp / INDEX_DIR).mkdir()
        index_counts = plant_index(index, tmp / INDEX_DIR, motifs, seed=seed)
        write_json(tmp / MOTIFS_FILE, {
            "seed": seed, "motifs": motifs, "data": str(data), "index": str(index),
            "planted_proteins": {n: int((hit.label == n).sum()) for n in motifs},
            "planted_test_proteins": {n: int(((hit.label == n) & hit.is_test).sum()) for n in motifs},
            "planted_index_entries": index_counts,
            # the planted test proteins: where the motif starts, and whether the models see it (SPEC 3)
            "planted_test": {a: {"start": int(t), "seen": motif_seen(int(t), len(s))} for a, t, s in
                             zip(hit.accession[hit.is_test], hit.start[hit.is_test], hit.sequence[hit.is_test],
                                 strict=True)}})
    return out


def create_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.planted", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/planted"),
                        help="folder to write (default: data/planted)")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="the index to copy (default: data/index)")
    parser.add_argument("--data", default=DEEPLOC_FASTA, help="the DeepLoc FASTA to copy (default: the shared one)")
    parser.add_argument("--seed", type=int, default=0, help="motifs, planted proteins, positions (default: 0)")
    return parser


def run(argv=None) -> int:
    args = create_parser().parse_args(argv)
    if args.seed < 0:
        raise PslError(f"--seed {args.seed}: must be >= 0")
    out = make_planted(args.out, index=args.index, data=args.data, seed=args.seed)
    info = json.loads((out / MOTIFS_FILE).read_text())
    for name, motif in info["motifs"].items():
        print(f"{name:22} {motif}  {info['planted_proteins'][name]:5} proteins ({info['planted_test_proteins'][name]} "
              f"test), {info['planted_index_entries'][name]:4} index entries")
    print(f"planted benchmark: {out}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
