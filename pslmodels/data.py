"""DeepLoc data: FASTA reading, splits, truncation with a map back to full coordinates, batching.

Definitions from SPEC sections 2-3: headers ``>ACCESSION Location-F[ test]`` with F in {M, S, U};
the 25-letter alphabet; sequences longer than 1000 keep their first and last 500 residues; test is
the official ``test`` partition, validation a seeded stratified 10 % of the rest.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pslindex.classes import ALPHABET, CLASS_INDEX, CLASSES
from pslindex.errors import PslError
from pslindex.fasta import header_accession

PAD = 0
TOKEN = {letter: i + 1 for i, letter in enumerate(ALPHABET)}  # 1..25; 0 is padding
VOCAB_SIZE = len(ALPHABET) + 1
MAX_LEN = 1000

# The shared data sets live outside the repository (../shared/data beside a checkout, or $PSL_DATA_DIR).
# Run files name data relative to this folder, so they mean the same thing on every machine.
DATA_DIR = Path(os.environ.get("PSL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
DEEPLOC_FASTA = "deeploc/deeploc_data.fasta.gz"
SETHARD_FASTA = "deeploc/setHARD.fasta.gz"


def data_path(name: str | Path) -> Path:
    """The file a data reference names: an existing path as given, else a path inside :data:`DATA_DIR`.

    ``data_path("deeploc/setHARD.fasta.gz")`` -> ``$PSL_DATA_DIR/deeploc/setHARD.fasta.gz``.
    """
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    return DATA_DIR / path


def data_ref(path: str | Path) -> str:
    """How run files name a data file: relative to :data:`DATA_DIR` when inside it, else as given."""
    path = data_path(path)
    try:
        return path.resolve().relative_to(DATA_DIR.resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Protein:
    accession: str
    sequence: str
    label: str | None        # one of CLASSES, or None for an unlabelled FASTA
    membrane: str | None     # M, S, U or None
    is_test: bool
    header: str = ""         # the header line as given, without '>' (descriptions for users' outputs)

    @property
    def y(self) -> int:
        return CLASS_INDEX[self.label]


def _open(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else open(path)


def iter_fasta(path: str | Path, *, require_labels: bool = True, skip_invalid: bool = False,
               on_skip=None) -> Iterator[Protein]:
    """Yield the records of a FASTA file (plain or gzipped) one at a time, as users have them.

    Headers: DeepLoc's ``>ACCESSION Location-F[ test]``, UniProt's ``>sp|P12345|NAME_HUMAN ...``
    (accession P12345) or any other first word; sequences wrapped or not, lowercase, with a final
    ``*`` (stop) and Windows line endings are all read.

    Parameters
    ----------
    path : path to the FASTA file
    require_labels : bool, default True
        If False, headers without a ``Location-F`` field are fine (prediction only).
    skip_invalid : bool, default False
        Skip a record with letters outside the alphabet or an empty sequence, calling
        ``on_skip(message)``, instead of raising.

    Raises
    ------
    PslError
        Missing or unreadable file, a record without sequence, letters outside the alphabet, an
        unknown label, or a missing label when ``require_labels``; the message names the file and
        the record.
    """
    path = data_path(path)
    if not path.is_file():
        raise PslError(f"{path}: no such file")
    header, header_line, chunks, line_no = None, "", [], 0

    def finish() -> Protein | None:
        accession = header_accession(header[0])
        sequence = "".join(chunks).upper()
        if sequence.endswith("*"):  # a stop codon from translated sequences
            sequence = sequence[:-1]
        problem = None
        if not sequence:
            problem = f"{path}: {accession} (header line {header_line}): empty sequence"
        else:
            bad = sorted(set(sequence) - set(ALPHABET))
            if bad:
                problem = (f"{path}: {accession} (header line {header_line}): letter(s) {''.join(bad)!r} outside "
                           f"the alphabet {ALPHABET}")
        if problem:
            if not skip_invalid:
                raise PslError(problem + ("; --skip-invalid leaves such records out" if on_skip else ""))
            if on_skip:
                on_skip(problem)
            return None
        label = membrane = None
        # a DeepLoc label is "Location-M|S|U"; any other second word is a description ("Alpha-beta hydrolase")
        looks_like_label = len(header) > 1 and "-" in header[1] and header[1].rsplit("-", 1)[1] in ("M", "S", "U")
        if looks_like_label:
            label, membrane = header[1].rsplit("-", 1)
            if label not in CLASS_INDEX:
                raise PslError(f"{path}: {accession}: unknown location {label!r}; expected one of "
                               f"{', '.join(CLASSES)}")
        elif require_labels:
            raise PslError(f"{path}: {accession}: no 'Location-M|S|U' label in the header (labels are needed "
                           "for training)")
        return Protein(accession, sequence, label, membrane, header[-1] == "test", " ".join(header))

    try:
        with _open(path) as handle:
            for line_no, line in enumerate(handle, 1):
                line = line.strip()
                if line.startswith(">"):
                    if header is not None and (protein := finish()) is not None:
                        yield protein
                    header, header_line, chunks = line[1:].split(), line_no, []
                    if not header:
                        raise PslError(f"{path}: line {line_no}: empty FASTA header")
                elif line:
                    if header is None:
                        raise PslError(f"{path}: line {line_no}: sequence before the first '>' header "
                                       "(not a FASTA file?)")
                    chunks.append("".join(line.split()))
            if header is not None and (protein := finish()) is not None:
                yield protein
    except (EOFError, OSError, UnicodeDecodeError) as exc:
        raise PslError(f"{path}: unreadable ({exc})") from None


def read_fasta(path: str | Path, *, require_labels: bool = True) -> list[Protein]:
    """Every record of a FASTA file as a list (see :func:`iter_fasta`); refuses a file without records."""
    proteins = list(iter_fasta(path, require_labels=require_labels))
    if not proteins:
        raise PslError(f"{data_path(path)}: no FASTA records")
    return proteins


def split(proteins: list[Protein], *, val_fraction: float = 0.1, seed: int = 0
          ) -> tuple[list[Protein], list[Protein], list[Protein]]:
    """(train, validation, test): test = the official partition; validation stratified by class."""
    test = [p for p in proteins if p.is_test]
    rest = [p for p in proteins if not p.is_test]
    from sklearn.model_selection import train_test_split  # here: sklearn costs half a second to import

    train, val = train_test_split(rest, test_size=val_fraction, random_state=seed, stratify=[p.label for p in rest])
    return list(train), list(val), test


def truncate(sequence: str, max_len: int = MAX_LEN) -> tuple[str, np.ndarray]:
    """DeepLoc truncation: keep the first and last ``max_len // 2`` residues of a longer sequence.

    Returns the kept sequence and, for each kept residue, its 0-based position in the full one.
    """
    if len(sequence) <= max_len:
        return sequence, np.arange(len(sequence))
    half = max_len // 2
    kept = np.concatenate([np.arange(half), np.arange(len(sequence) - (max_len - half), len(sequence))])
    return sequence[:half] + sequence[len(sequence) - (max_len - half):], kept


def to_full_coordinates(values: np.ndarray, full_length: int, max_len: int = MAX_LEN) -> np.ndarray:
    """Map per-residue values of a truncated sequence back onto the full sequence; NaN where unseen.

    Parameters
    ----------
    values : array of shape (min(full_length, max_len),)
    full_length : length of the full sequence

    Returns
    -------
    array of shape (full_length,), float32
    """
    _, kept = truncate("A" * full_length, max_len)
    if len(values) != len(kept):
        raise ValueError(f"{len(values)} values for {len(kept)} kept residues")
    out = np.full(full_length, np.nan, dtype=np.float32)
    out[kept] = values
    return out


def encode(sequence: str) -> torch.Tensor:
    """Token ids (1..25) of a sequence, after truncation; shape (min(L, 1000),), int64."""
    kept, _ = truncate(sequence)
    return torch.tensor([TOKEN[c] for c in kept], dtype=torch.long)


@dataclass
class Batch:
    """Padded tokens (B, L), true lengths (B,), labels (B,) (-1 when unknown) and the proteins."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    proteins: list[Protein]

    def to(self, device) -> Batch:
        return Batch(self.tokens.to(device), self.lengths, self.labels.to(device), self.proteins)


def collate(proteins: list[Protein], pad_to: int | None = None) -> Batch:
    """Pad a list of proteins into one batch (to the longest, or to ``pad_to``)."""
    encoded = [encode(p.sequence) for p in proteins]
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    width = pad_to or int(lengths.max())
    tokens = torch.full((len(encoded), width), PAD, dtype=torch.long)
    for i, e in enumerate(encoded):
        tokens[i, :len(e)] = e
    labels = torch.tensor([p.y if p.label else -1 for p in proteins], dtype=torch.long)
    return Batch(tokens, lengths, labels, proteins)


def batches(proteins: list[Protein], batch_size: int, *, seed: int | None = None, bucketed: bool = True,
            pad_to: int | None = None) -> Iterator[Batch]:
    """Length-bucketed batches: proteins of similar length together, so padding costs little.

    With ``seed`` the membership of buckets is jittered and their order shuffled (training); without
    it batches come in a fixed order (evaluation). ``bucketed=False`` keeps the input order.
    """
    order = np.arange(len(proteins))
    if bucketed:
        lengths = np.array([min(len(p.sequence), MAX_LEN) for p in proteins], dtype=np.float64)
        if seed is not None:  # jitter so that equal lengths don't always share a batch
            lengths = lengths + np.random.default_rng(seed).uniform(0, 1, len(lengths))
        order = np.argsort(lengths, kind="stable")
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if seed is not None:
        np.random.default_rng(seed + 1).shuffle(chunks)
    for chunk in chunks:
        yield collate([proteins[i] for i in chunk], pad_to=pad_to)


def stratified_subset(proteins: list[Protein], n: int, seed: int) -> list[Protein]:
    """Exactly ``n`` proteins, classes in proportion (largest remainder), seeded; all if n <= 0 or n >= len.

    Returned in their input order.
    """
    if n <= 0 or n >= len(proteins):
        return proteins
    rng = np.random.default_rng(seed)
    labels = np.array([p.label for p in proteins])
    classes, sizes = np.unique(labels, return_counts=True)
    exact = n * sizes / len(proteins)
    quota = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quota), kind="stable")[: n - quota.sum()]:
        quota[i] += 1
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
                             for c, q in zip(classes, quota, strict=True)])
    return [proteins[i] for i in np.sort(picked)]
