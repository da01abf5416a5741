"""Exact peptide search over every Swiss-Prot sequence: a 5-mer index (CSR), built and queried with numba.

Layout on disk, beside ``sprot.duckdb`` in the index folder (all memory-mapped at query time):

``matcher_text.npy`` (uint8, T)
    All sequences as residue codes 0..24 (``ALPHABET`` order), each followed by a separator (255).
``matcher_starts.npy`` (int64, N+1)
    Start of each sequence in the text; ``starts[N]`` is the text length.
``matcher_offsets.npy`` (int64, 25**5 + 1) and ``matcher_positions.npy`` (int32, number of 5-mers)
    CSR: the text positions of 5-mer ``c`` are ``positions[offsets[c]:offsets[c+1]]``, ascending.
``matcher_accessions.txt``
    The accession of sequence i on line i.
``matcher_meta.json``
    Which index build it belongs to, so a stale matcher is refused.

A peptide of length >= 5 is seeded by its rarest 5-mer; a seed position is a hit when the 5-mers
covering the rest of the peptide occur at the matching positions too (sorted-list intersection),
so hits are exact. Shorter peptides fall back to an Aho-Corasick scan (pyahocorasick).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from pslindex.classes import ALPHABET
from pslindex.errors import ArgumentParser, PslError, first_line
from pslindex.store import index_file, open_index

K = 5
SIGMA = len(ALPHABET)  # 25
SEPARATOR = 255
FILES = ("matcher_text.npy", "matcher_starts.npy", "matcher_offsets.npy", "matcher_positions.npy",
         "matcher_accessions.txt", "matcher_meta.json")

# numba's default OpenMP layer shares torch's libgomp: after a parallel search its idle worker spins
# at a barrier and takes a core from every later torch step of the same process (measured here: 20
# LSTM forwards 4.2 s with workqueue, 12-28 s with omp, after one search). Its own thread pool avoids
# that; set before the first parallel call, and only when the user has not chosen a layer.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


@contextmanager
def signals_deferred():
    """Hold Ctrl-C back while numba's kernels run (and compile or load from cache); it arrives right after.

    A KeyboardInterrupt raised inside numba (its compiler is Python, and any thread can take the
    signal) or a signal that cut the main thread's wait for the workers left a half-built function
    or a worker still writing: a segfault (3 of 15 Ctrl-C trials during the matcher build), never
    the one-line "interrupted". Here the handler only notes the signal, the main thread blocks it
    at the C level too, and the KeyboardInterrupt is raised when the block ends.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # handlers belong to the main thread
        yield
        return
    received = []
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)  # a pending SIGINT is taken here
        signal.signal(signal.SIGINT, previous_handler)
    if received:
        raise KeyboardInterrupt


_ALPHABET_SET = set(ALPHABET)
_LUT = np.full(256, SEPARATOR, dtype=np.uint8)
_LUT[np.frombuffer(ALPHABET.encode(), np.uint8)] = np.arange(SIGMA, dtype=np.uint8)


def encode(sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate sequences into residue codes with a separator after each.

    Returns ``text`` (uint8, total + N) and ``starts`` (int64, N + 1).
    """
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    starts = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=starts[1:])
    joined = np.frombuffer("\n".join(sequences).encode("ascii") + b"\n", dtype=np.uint8)
    return _LUT[joined], starts


@numba.njit(parallel=True, cache=True)
def _kmer_codes(text):
    """Base-25 code of the 5-mer starting at each text position; -1 where it crosses a separator."""
    n = len(text)
    codes = np.full(max(n - K + 1, 0), -1, dtype=np.int32)
    for i in numba.prange(n - K + 1):
        code = 0
        for j in range(K):
            c = text[i + j]
            if c == SEPARATOR:
                code = -1
                break
            code = code * SIGMA + c
        codes[i] = code
    return codes


@numba.njit(parallel=True, cache=True)
def _counting_sort(codes, n_buckets, n_parts):
    """CSR offsets per code and the positions of the valid codes sorted by code (ties by position).

    The buckets are split into ``n_parts`` ranges, one per thread: every thread reads all codes but
    counts and writes only its own buckets, so there is no race and the random writes are shared
    out. (A two-pass radix sort over base-3125 digits was tried: slower, 7.4 s against 6.4 s for a
    one-thread counting sort on the Debian set.)
    """
    counts = np.zeros(n_buckets + 1, dtype=np.int64)
    for part in numba.prange(n_parts):
        lo, hi = part * n_buckets // n_parts, (part + 1) * n_buckets // n_parts
        for c in codes:
            if lo <= c < hi:
                counts[c + 1] += 1
    offsets = np.cumsum(counts)
    positions = np.empty(offsets[-1], dtype=np.int32)
    fill = offsets[:-1].copy()
    for part in numba.prange(n_parts):
        lo, hi = part * n_buckets // n_parts, (part + 1) * n_buckets // n_parts
        for i in range(len(codes)):
            c = codes[i]
            if lo <= c < hi:
                positions[fill[c]] = i
                fill[c] += 1
    return offsets, positions


@numba.njit(parallel=True, cache=True)
def _seeds(offsets, pep_codes, pep_starts):
    """The rarest 5-mer of each peptide: its code, its offset in the peptide, its number of positions."""
    n = len(pep_starts) - 1
    best = np.empty(n, dtype=np.int64)
    best_off = np.empty(n, dtype=np.int64)
    best_count = np.empty(n, dtype=np.int64)
    for p in numba.prange(n):
        a = pep_starts[p]
        best_count[p] = 1 << 62
        for o in range(pep_starts[p + 1] - a - K + 1):
            code = 0
            for j in range(K):
                code = code * SIGMA + pep_codes[a + o + j]
            cnt = offsets[code + 1] - offsets[code]
            if cnt < best_count[p]:
                best[p], best_off[p], best_count[p] = code, o, cnt
    return best, best_off, best_count


@numba.njit(inline="always")
def _seek(positions, x, hi, target):
    """First index in ``[x, hi)`` whose position is >= ``target`` (galloping forward from x); hi if none."""
    if x >= hi or positions[x] >= target:
        return x
    step = 1
    y = x + 1
    while y < hi and positions[y] < target:
        x = y
        step *= 2
        y = x + step
    hi = min(y, hi)
    x += 1
    while x < hi:  # positions[x - 1] < target <= positions[hi], if hi is in range
        mid = (x + hi) >> 1
        if positions[mid] < target:
            x = mid + 1
        else:
            hi = mid
    return x


@numba.njit(cache=True)
def _cover(length, seed_off):
    """5-mer offsets that cover a peptide of ``length`` residues, starting with ``seed_off``.

    Steps of K outwards from the seed, plus 0 and ``length - K``: every residue lies in one of them,
    so a text position where all of these 5-mers occur is an occurrence of the whole peptide.
    """
    cover = np.empty(length // K + 3, dtype=np.int64)
    cover[0] = seed_off
    m = 1
    o = seed_off - K
    while o > 0:
        cover[m] = o
        m += 1
        o -= K
    if seed_off > 0:
        cover[m] = 0
        m += 1
    o = seed_off + K
    while o < length - K:
        cover[m] = o
        m += 1
        o += K
    if seed_off < length - K:
        cover[m] = length - K
        m += 1
    return cover[:m]


COVER_RATIO = 64  # a covering 5-mer with more than this many times the seed's positions is checked in the text


@numba.njit(parallel=True, cache=True)
def _verify(text, offsets, positions, pep_codes, pep_starts, best, best_off, slot_start, out_pos,
            cover_ratio):
    """Every occurrence of every peptide: its seed's positions, intersected with those of covering 5-mers.

    The positions of a 5-mer are sorted, so a seed position s - ``best_off`` is a hit exactly when
    every covering 5-mer (:func:`_cover`) lists s + its offset; each list is walked forward once by
    galloping. This reads the position lists in order instead of the text at random: one cache miss
    per candidate made the text check 0.4 s for the 7.0M candidates of 100k peptides; the
    intersection takes about half of that. A covering 5-mer far more common than the seed
    (more than ``cover_ratio`` times) would cost more to gallop through than a text read, so it is
    left out and the (few) positions surviving the others are checked against the text.
    Hits go to the peptide's own slots, ``slot_start[p]`` onwards, in text order.
    """
    n = len(pep_starts) - 1
    found = np.zeros(n, dtype=np.int64)
    for p in numba.prange(n):
        a = pep_starts[p]
        length = pep_starts[p + 1] - a
        cover = _cover(length, best_off[p])
        seed_count = offsets[best[p] + 1] - offsets[best[p]]
        lo = np.empty(len(cover), dtype=np.int64)  # walk pointer and end of each covering list
        hi = np.empty(len(cover), dtype=np.int64)
        shift = np.empty(len(cover), dtype=np.int64)  # its offset in the peptide
        m = 0
        check_text = False
        for i in range(1, len(cover)):
            code = 0
            for j in range(K):
                code = code * SIGMA + pep_codes[a + cover[i] + j]
            if offsets[code + 1] - offsets[code] > cover_ratio * seed_count:
                check_text = True
                continue
            j = m  # insertion by list length: the rarest list rejects a candidate first
            while j > 0 and hi[j - 1] - lo[j - 1] > offsets[code + 1] - offsets[code]:
                lo[j], hi[j], shift[j] = lo[j - 1], hi[j - 1], shift[j - 1]
                j -= 1
            lo[j], hi[j], shift[j] = offsets[code], offsets[code + 1], cover[i]
            m += 1
        k = 0
        exhausted = False
        for idx in range(offsets[best[p]], offsets[best[p] + 1]):
            s = positions[idx] - best_off[p]
            ok = True
            for i in range(m):
                x = _seek(positions, lo[i], hi[i], s + shift[i])
                lo[i] = x
                if x == hi[i]:  # no later candidate can match either
                    exhausted = True
                    break
                if positions[x] != s + shift[i]:
                    ok = False
                    break
            if exhausted:
                break
            if ok and check_text:
                if s < 0 or s + length > len(text):
                    ok = False
                else:
                    for j in range(length):
                        if text[s + j] != pep_codes[a + j]:
                            ok = False
                            break
            if ok:
                out_pos[slot_start[p] + k] = s
                k += 1
        found[p] = k
    return found


BLOCK_SHIFT = 8  # text blocks of 256 residues for the position -> sequence lookup


def _block_table(starts: np.ndarray, text_length: int) -> np.ndarray:
    """For every 256-residue block of the text, the sequence holding its first residue (int32)."""
    block_starts = np.arange(0, text_length, 1 << BLOCK_SHIFT, dtype=np.int64)
    return (np.searchsorted(starts, block_starts, side="right") - 1).astype(np.int32)


@numba.njit(inline="always")
def _sequence_of(s, starts, blocks):
    """The sequence holding text position ``s``: its block's first sequence, then a short walk forward."""
    i = blocks[s >> BLOCK_SHIFT]
    while starts[i + 1] <= s:
        i += 1
    return i


@numba.njit(parallel=True, cache=True)
def _compact(found, slot_start, out_pos, starts, blocks, first_peptide):
    """Gather the hits out of their slots as (peptide, sequence, position in the sequence), in parallel.

    Peptide and sequence come as int32, the codes pandas keeps for categoricals of this size (int64
    codes cost a 0.04 s conversion for 2.3M hits). The sequence of a text position comes from its
    block's first sequence plus a short forward walk (sequences average ~360 residues, so rarely
    more than one step), not a binary search: 0.47 s -> 0.08 s for the 2.3M hits of 100k peptides.
    """
    out_start = np.zeros(len(found) + 1, dtype=np.int64)
    out_start[1:] = np.cumsum(found)
    total = out_start[-1]
    pep = np.empty(total, dtype=np.int32)
    seq = np.empty(total, dtype=np.int32)
    pos = np.empty(total, dtype=np.int64)
    for p in numba.prange(len(found)):
        j = out_start[p]
        for k in range(found[p]):
            s = out_pos[slot_start[p] + k]
            i = _sequence_of(s, starts, blocks)
            pep[j], seq[j], pos[j] = first_peptide + p, i, s - starts[i]
            j += 1
    return pep, seq, pos


@numba.njit(parallel=True, cache=True)
def _locate(text_pos, starts, blocks):
    """(sequence, position in it) of text positions, by :func:`_sequence_of` (not a binary search)."""
    seq = np.empty(len(text_pos), dtype=np.int32)
    pos = np.empty(len(text_pos), dtype=np.int64)
    for j in numba.prange(len(text_pos)):
        s = text_pos[j]
        i = _sequence_of(s, starts, blocks)
        seq[j], pos[j] = i, s - starts[i]
    return seq, pos


MAX_SLOTS = 50_000_000  # seed positions per chunk of peptides: bounds the query memory (200 MB + 16 B a hit)


@dataclass
class KmerIndex:
    """The 5-mer index; :meth:`build` it from sequences, :meth:`save` / :meth:`load` it, :meth:`find`."""

    text: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray
    accessions: list[str]

    @classmethod
    def build(cls, accessions: list[str], sequences: list[str]) -> KmerIndex:
        """Index ``sequences`` (letters of ``ALPHABET``); ``accessions[i]`` names ``sequences[i]``."""
        text, starts = encode(sequences)
        if len(text) >= 2**31:
            raise PslError(f"{len(text):,} residues: more than the matcher's int32 positions can address")
        with signals_deferred():
            offsets, positions = _counting_sort(_kmer_codes(text), SIGMA**K, numba.get_num_threads())
        return cls(text, starts, offsets, positions, list(accessions))

    def save(self, folder: Path, meta: dict) -> None:
        """Write the matcher files into ``folder`` atomically (temporary folder, then rename per file)."""
        folder = Path(folder)
        tmp = folder / ".matcher.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in ("text", "starts", "offsets", "positions"):
            np.save(tmp / f"matcher_{name}.npy", getattr(self, name))
        (tmp / "matcher_accessions.txt").write_text("\n".join(self.accessions) + "\n")
        (tmp / "matcher_meta.json").write_text(json.dumps(meta, indent=1))
        for name in FILES:  # meta last: a matcher without its meta file is never used
            os.replace(tmp / name, folder / name)
        tmp.rmdir()

    @classmethod
    def load(cls, folder: Path) -> KmerIndex:
        """Memory-map a saved matcher; refuse a missing one or one from another index build."""
        folder = Path(folder)
        meta_path = folder / "matcher_meta.json"
        if not meta_path.is_file():
            raise PslError(f"{meta_path}: no peptide matcher; build it with 'make index' "
                           "(or python -m pslindex.matcher --build)")
        rebuild = f"rebuild it with python -m pslindex.matcher --build --index {folder}"
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise PslError(f"{meta_path}: damaged ({exc}); {rebuild}") from None
        with open_index(folder) as index:
            build_id = index.meta().get("build_id")
        if meta.get("index_build_id") != build_id:
            raise PslError(f"{meta_path}: matcher belongs to another index build; {rebuild}")
        arrays = {}
        for name in ("text", "starts", "offsets", "positions"):
            path = folder / f"matcher_{name}.npy"
            try:
                arrays[name] = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as exc:  # missing, truncated header or data
                raise PslError(f"{path}: missing or damaged ({first_line(exc)}); {rebuild}") from None
        try:
            accessions = (folder / "matcher_accessions.txt").read_text().split("\n")[:-1]
        except (OSError, UnicodeDecodeError) as exc:
            raise PslError(f"{folder / 'matcher_accessions.txt'}: missing or damaged ({exc}); {rebuild}") from None
        # sizes that must agree: a file cut short (or from another build) fails here, not mid-search
        a = arrays
        consistent = (a["text"].ndim == a["starts"].ndim == a["offsets"].ndim == a["positions"].ndim == 1
                      and len(a["starts"]) == len(accessions) + 1 and len(a["offsets"]) == SIGMA**K + 1
                      and len(a["starts"]) > 0 and int(a["starts"][-1]) == len(a["text"])
                      and int(a["offsets"][-1]) == len(a["positions"]))
        if not consistent:
            raise PslError(f"{folder}: the matcher files do not fit together (truncated or mixed); {rebuild}")
        return cls(accessions=accessions, **arrays)

    def find(self, peptides: list[str]) -> pd.DataFrame:
        """Every exact occurrence of every distinct peptide.

        Parameters
        ----------
        peptides : list of str, letters of ``ALPHABET``; duplicates are searched once

        Returns
        -------
        DataFrame with columns ``peptide`` and ``accession`` (categoricals) and ``position`` (int64,
        0-based in that sequence); grouped by peptide in first-seen query order, then by position
        in the index text.
        """
        seen = dict.fromkeys(peptides)
        seen.pop("", None)
        unique = list(seen)
        pep_idx, seq, pos = self.find_arrays(unique)
        if any(len(p) < K for p in unique):  # long peptides' hits come ordered; short ones' are appended
            order = np.lexsort((pos, seq, pep_idx))
            pep_idx, seq, pos = pep_idx[order], seq[order], pos[order]
        # object-dtype categories and no copies: building the frame cost 0.19 s for 2.3M hits, now 0.06 s
        return pd.DataFrame({
            "peptide": pd.Categorical.from_codes(pep_idx, dtype=pd.CategoricalDtype(pd.Index(unique, dtype=object))),
            "accession": pd.Categorical.from_codes(seq, dtype=self._accession_dtype()),
            "position": pos,
        }, copy=False)

    def find_arrays(self, peptides: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every hit of distinct, non-empty ``peptides`` as arrays, in no particular order.

        Returns ``(peptide index into peptides, sequence index into accessions, position)``: the hits
        of one peptide lie together, but neither peptides nor positions are sorted. For callers that
        aggregate millions of hits themselves (the authors' protocol); :meth:`find` sorts them.
        """
        lengths = np.fromiter(map(len, peptides), dtype=np.int64, count=len(peptides))
        long, short = np.flatnonzero(lengths >= K), np.flatnonzero(lengths < K)
        if not len(short):
            return self._find_long(peptides)
        # SPEC 6 windows are >= 5 long; the authors' end-clipped peptides (SPEC 10) can be 3 or 4
        pep_idx, seq, pos = self._find_long([peptides[i] for i in long])
        self._check_letters([peptides[i] for i in short])
        s_idx, s_text = self._find_short([peptides[i] for i in short])
        with signals_deferred():
            s_seq, s_pos = _locate(s_text, np.asarray(self.starts), self._blocks())
        pep_idx = np.concatenate([long[pep_idx], short[s_idx]]).astype(np.int32)
        return pep_idx, np.concatenate([seq, s_seq]), np.concatenate([pos, s_pos])

    def _accession_dtype(self) -> pd.CategoricalDtype:
        # Built once: validating 400k categories on every call costs more than a small search.
        if getattr(self, "_dtype", None) is None:
            self._dtype = pd.CategoricalDtype(self.accessions)
        return self._dtype

    def _blocks(self) -> np.ndarray:
        """The block -> first sequence table of :func:`_compact`, made on first use (~20 ms)."""
        if getattr(self, "_block_seq", None) is None:
            self._block_seq = _block_table(np.asarray(self.starts), len(self.text))
        return self._block_seq

    def _find_short(self, peptides: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(peptide index, text position) of every occurrence of peptides shorter than 5, without a scan.

        The 5-mers that start with a peptide P of length m are one range of codes,
        [code(P) * 25^(5-m), (code(P) + 1) * 25^(5-m)), so their positions are one slice of the CSR
        index; occurrences too close to a sequence's end for a 5-mer to start there are looked up
        in a sorted table of those tail positions' m-mer codes (built on first use).
        """
        idx_parts, pos_parts = [], []
        offsets, positions = np.asarray(self.offsets), self.positions
        for i, pep in enumerate(peptides):
            m = len(pep)
            code = 0
            for c in _LUT[np.frombuffer(pep.encode("ascii"), np.uint8)]:
                code = code * SIGMA + int(c)
            lo, hi = code * SIGMA ** (K - m), (code + 1) * SIGMA ** (K - m)
            tail_codes, tail_pos = self._tails(m)
            a, b = np.searchsorted(tail_codes, [code, code + 1])
            found = np.concatenate([np.asarray(positions[offsets[lo]:offsets[hi]], dtype=np.int64), tail_pos[a:b]])
            idx_parts.append(np.full(len(found), i, dtype=np.int64))
            pos_parts.append(found)
        if not idx_parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(idx_parts), np.concatenate(pos_parts)

    def _tails(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted m-mer codes (and their text positions) of the positions where no 5-mer starts but an m-mer fits."""
        cache = self.__dict__.setdefault("_tail_cache", {})
        if m not in cache:
            ends = np.asarray(self.starts[1:], dtype=np.int64) - 1  # separator after each sequence
            firsts = np.asarray(self.starts[:-1], dtype=np.int64)
            pos = (ends[:, None] - np.arange(K - 1, m - 1, -1)[None, :]).ravel()  # end-4 .. end-m
            owner = np.repeat(firsts, K - m)
            pos = pos[pos >= owner]  # sequences shorter than 4
            codes = np.zeros(len(pos), dtype=np.int64)
            text = np.asarray(self.text)
            for j in range(m):
                codes = codes * SIGMA + text[pos + j]
            order = np.argsort(codes, kind="stable")
            cache[m] = (codes[order], pos[order])
        return cache[m]

    @staticmethod
    def _check_letters(peptides: list[str]) -> None:
        bad = next((p for p in peptides if set(p) - _ALPHABET_SET), None)
        if bad is not None:
            raise PslError(f"peptide {bad!r}: letters outside the alphabet {ALPHABET}")

    def _find_long(self, peptides: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(peptide index, sequence index, position) of every hit of peptides of length >= 5."""
        if not peptides:
            return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.int64)
        pep_codes, pep_starts = encode(peptides)
        if np.count_nonzero(pep_codes == SEPARATOR) != len(peptides):  # a letter outside the alphabet
            self._check_letters(peptides)
        pep_codes = pep_codes[pep_codes != SEPARATOR]
        pep_starts = pep_starts - np.arange(len(pep_starts))  # separators dropped
        with signals_deferred():
            best, best_off, best_count = _seeds(self.offsets, pep_codes, pep_starts)
        # Verify in chunks of peptides whose seeds fit MAX_SLOTS, each hit written once into slots
        # sized by the seed counts (an upper bound on the hits).
        parts, first = [], 0
        bounds = np.cumsum(best_count)
        while first < len(peptides):
            base = bounds[first - 1] if first else 0
            last = max(first + 1, int(np.searchsorted(bounds, base + MAX_SLOTS, side="right")))
            counts = best_count[first:last]
            slot_start = np.zeros(len(counts), dtype=np.int64)
            np.cumsum(counts[:-1], out=slot_start[1:])
            out_pos = np.empty(int(counts.sum()), dtype=np.int32)  # text positions < 2**31
            with signals_deferred():
                found = _verify(self.text, self.offsets, self.positions, pep_codes, pep_starts[first:last + 1],
                                best[first:last], best_off[first:last], slot_start, out_pos, COVER_RATIO)
                parts.append(_compact(found, slot_start, out_pos, np.asarray(self.starts), self._blocks(), first))
            first = last
        if len(parts) == 1:  # the usual case; concatenating would copy 2.3M hits x 3 columns for nothing
            return parts[0]
        return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def aho_corasick_find(peptides: list[str], text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scan the whole text with an Aho-Corasick automaton (pyahocorasick).

    Used for peptides shorter than 5 and, in tests and benchmarks, as an independent reference.
    Returns ``(peptide index, text position)`` arrays.
    """
    import ahocorasick

    automaton = ahocorasick.Automaton()
    letters = np.frombuffer(ALPHABET.encode(), np.uint8)
    for i, p in enumerate(peptides):
        automaton.add_word(p, (i, len(p)))
    automaton.make_automaton()
    haystack = np.where(text == SEPARATOR, ord("\n"), letters[np.minimum(text, SIGMA - 1)]).astype(np.uint8)
    pep_idx, pos = [], []
    for end, (i, length) in automaton.iter(haystack.tobytes().decode("ascii")):
        pep_idx.append(i)
        pos.append(end - length + 1)
    return np.asarray(pep_idx, dtype=np.int64), np.asarray(pos, dtype=np.int64)


def build_matcher(index_dir: Path) -> KmerIndex:
    """Build the matcher for the index in ``index_dir`` and save it there."""
    index_dir = Path(index_dir)
    with open_index(index_dir) as index:
        table = index.con.sql("SELECT accession, sequence FROM proteins ORDER BY accession").to_arrow_table()
        build_id = index.meta().get("build_id")
    matcher = KmerIndex.build(table.column("accession").to_pylist(), table.column("sequence").to_pylist())
    matcher.save(index_dir, {"index_build_id": build_id, "index_file": str(index_file(index_dir).name),
                             "k": K, "sequences": len(matcher.accessions)})
    return matcher


def main(argv=None) -> int:
    import sys
    import time

    from pslindex.errors import cli_main
    from pslindex.store import DEFAULT_INDEX_DIR

    def run(argv):
        parser = ArgumentParser(prog="python -m pslindex.matcher",
                                         description="Build the peptide matcher, or find peptides.")
        parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR)
        parser.add_argument("--build", action="store_true", help="(re)build the matcher files")
        parser.add_argument("peptides", nargs="*", help="peptides to look up")
        args = parser.parse_args(argv)
        args.peptides = [p for p in args.peptides if p.strip()]
        if not args.build and not args.peptides:
            raise PslError("give one or more peptides to find (e.g. python -m pslindex.matcher MKTAYIAK), "
                           "or --build")
        if args.build:
            t0 = time.perf_counter()
            m = build_matcher(args.index)
            print(f"matcher built in {time.perf_counter() - t0:.1f} s: {len(m.accessions):,} sequences, "
                  f"{len(m.positions):,} 5-mers", file=sys.stderr)
        if args.peptides:
            hits = KmerIndex.load(args.index).find(args.peptides)
            print(hits.to_string(index=False) if len(hits) else f"no hits for {', '.join(args.peptides)}")
        return 0

    return cli_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
