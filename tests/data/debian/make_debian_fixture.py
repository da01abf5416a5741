"""Regenerate the ``metastudent-data`` slice in this folder from the real package.

Usage (repository root, after ``make index`` unpacked the package into data/downloads):

    python tests/data/debian/make_debian_fixture.py data/downloads/metastudent-data/usr/share/metastudent-data

It copies, byte for byte, the ``.phr`` header and ``.psq`` residues of the accessions below and of
every entry holding one of FAMILY_PEPTIDES out of ``CCO/goasp.fasta`` into a smaller BLAST v4
database with the same title and date, their lines of
``CCO/goasp_annot.dat``, every line of ``fullTransitiveClosureGO.txt`` for the GO terms they use,
and ``dataversion.txt``. Offsets are the only bytes computed here.
"""

import struct
import sys
from pathlib import Path

import numpy as np

from build_index.debian import read_blastdb

ACCESSIONS = ["C6DJ78", "P31040", "P10809", "P01308", "P04637", "P11021", "Q02Q08", "P04040", "P07339",
              "P07267", "P10795", "Q9EP78", "Q3STL0"]
# Every entry holding one of these 10-mers is added too: one peptide from a DeepLoc test protein of
# each class, each found in 4-8 Swiss-Prot entries, so hit rates over this slice are not trivial.
FAMILY_PEPTIDES = ["KGQRDLYSGL", "GYGKRKGTRE", "VLFLDEPTSG", "DKRHKDIWSK", "FLCGAALLAV", "NQDLIRFAQT",
                   "LQFPVGRISR", "GVALSLSTGL", "YTFYCAPHQG", "LLLCLGLTLV"]
CCO = "dataset_201401/CCO/goasp.fasta"


def main(src: Path, dst: Path) -> None:
    pin = (src / f"{CCO}.pin").read_bytes()
    pos = 8
    (tlen,) = struct.unpack_from(">I", pin, pos)
    pos += 4 + tlen
    (dlen,) = struct.unpack_from(">I", pin, pos)
    pos += 4 + dlen
    head = pin[:pos]
    (n,) = struct.unpack_from(">I", pin, pos)
    pos += 16
    hdr = np.frombuffer(pin, ">u4", n + 1, pos).astype(np.int64)
    seq = np.frombuffer(pin, ">u4", n + 1, pos + 4 * (n + 1)).astype(np.int64)
    phr = (src / f"{CCO}.phr").read_bytes()
    psq = (src / f"{CCO}.psq").read_bytes()
    annot = {line.split("\t", 1)[0]: line for line in open(src / "dataset_201401/CCO/goasp_annot.dat")}
    wanted = set(ACCESSIONS)
    db = read_blastdb(src / CCO)
    titles = db.titles
    oids = [i for i in range(n) if titles[i].split("|", 1)[0] in wanted
            or any(p in db.sequence(i) for p in FAMILY_PEPTIDES)]
    new_phr, new_psq = bytearray(), bytearray(b"\0")
    h_off, s_off = [0], [1]
    for i in oids:
        new_phr += phr[hdr[i]:hdr[i + 1]]
        new_psq += psq[seq[i]:seq[i + 1]]
        h_off.append(len(new_phr))
        s_off.append(len(new_psq))
    total = sum(s_off[k + 1] - s_off[k] - 1 for k in range(len(oids)))
    longest = max(s_off[k + 1] - s_off[k] - 1 for k in range(len(oids)))
    out = dst / CCO
    out.parent.mkdir(parents=True, exist_ok=True)
    new_pin = head + struct.pack(">I", len(oids)) + struct.pack("<Q", total) + struct.pack(">I", longest)
    new_pin += np.asarray(h_off, ">u4").tobytes() + np.asarray(s_off, ">u4").tobytes()
    Path(f"{out}.pin").write_bytes(new_pin)
    Path(f"{out}.phr").write_bytes(bytes(new_phr))
    Path(f"{out}.psq").write_bytes(bytes(new_psq))
    accs = [titles[i].split("|", 1)[0] for i in oids]
    lines = [annot[a] for a in accs]
    (dst / "dataset_201401/CCO/goasp_annot.dat").write_text("".join(lines))
    terms = {t for line in lines for t in line.split()[1:]}
    with open(src / "dataset_201401/fullTransitiveClosureGO.txt") as handle:
        closure = [line for line in handle if line.split("\t", 1)[0] in terms]
    (dst / "dataset_201401/fullTransitiveClosureGO.txt").write_text("".join(closure))
    (dst / "dataversion.txt").write_bytes((src / "dataversion.txt").read_bytes())
    print(f"{len(oids)} entries, {total} residues, {len(terms)} GO terms, {len(closure)} closure lines")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).parent / "metastudent-data")
