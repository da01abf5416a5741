"""Faithfulness (SPEC 12) on a model whose reasoning is known: it reads only a planted motif."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SHARED
from pslmodels.data import TOKEN, read_fasta
from pslmodels.faithfulness import (
    STANDARD,
    blosum_probabilities,
    blosum_substitute,
    faithfulness,
    matters_table,
    protein_drops,
)

MOTIF = "WCHWCH"  # the planted 6-mer


class MotifReader(torch.nn.Module):
    """Hand-set: class 1 with probability ~1 when MOTIF is in the sequence, class 0 otherwise."""

    def forward(self, tokens, lengths):
        motif = torch.tensor([TOKEN[c] for c in MOTIF])
        windows = tokens.unfold(1, len(motif), 1)                       # (B, L - 5, 6)
        present = (windows == motif).all(-1).any(-1).float()            # (B,)
        logits = torch.stack([torch.zeros_like(present), 12 * present - 6], dim=1)
        return logits, None


@pytest.fixture(scope="module")
def planted():
    """Real test proteins (200-400 residues) with the motif planted at a seeded random place."""
    rng = np.random.default_rng(0)
    test = [p for p in read_fasta(SHARED / "data/deeploc/deeploc_data.fasta.gz") if p.is_test
            and 200 <= len(p.sequence) <= 400 and "W" not in p.sequence][:12]
    out = []
    for p in test:
        at = int(rng.integers(0, len(p.sequence) - len(MOTIF)))
        sequence = p.sequence[:at] + MOTIF + p.sequence[at + len(MOTIF):]
        oracle = np.zeros(len(sequence))
        oracle[at:at + len(MOTIF)] = 1.0
        elsewhere = np.abs(np.arange(len(sequence)) - at).astype(float)  # highest far from the motif
        out.append((p.accession, sequence, oracle, elsewhere))
    return out


def _rows(planted):
    rows = []
    for accession, sequence, oracle, elsewhere in planted:
        for method, scores in (("attention", oracle), ("occlusion", elsewhere)):
            rows.append({"run_id": "t", "model": "motif", "method": method, "accession": accession,
                         "sequence": sequence, "true_label": "Nucleus", "pred_label": "Cytoplasm",
                         "probs": np.full(10, 0.1, dtype=np.float32), "scores": scores.astype(np.float32),
                         "ig_delta": None, "ig_change": None})
    return pd.DataFrame(rows)


def test_an_oracle_on_the_motif_has_maximal_deletion_aopc_and_one_elsewhere_none(planted):
    faith = faithfulness(MotifReader(), _rows(planted), perturbations=("blosum", "x"))
    deletion = faith[faith["mode"] == "deletion"].groupby(["method", "perturbation"]).aopc.mean()
    for perturbation in ("blosum", "x"):
        assert deletion[("attention", perturbation)] > 0.99          # the maximum: p(y^) ~1 -> ~0 at every k
        assert deletion[("occlusion", perturbation)] < 0.01          # scores elsewhere: nothing changes
        assert deletion[("n-ramp", perturbation)] < 0.5
    # insertion keeps only the top-k: the oracle keeps the whole motif once k reaches 6 residues (no drop),
    # the other never keeps it
    insertion = faith[faith["mode"] == "insertion"].groupby(["method", "perturbation"])
    assert (insertion[["drop_0.05", "drop_0.1", "drop_0.2"]].mean().loc[("attention", "x")] < 0.01).all()
    assert insertion.aopc.mean()[("occlusion", "x")] > 0.99
    table = matters_table(faith).set_index("method")
    assert table.loc["attention", "matters to the model"] == "yes"
    assert table.loc["occlusion", "matters to the model"] == "no"


def test_drops_are_seeded(planted):
    accession, sequence, oracle, _ = planted[0]
    a, b = (protein_drops(MotifReader(), sequence, {"attention": oracle}, seed=3) for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


def test_blosum_never_keeps_the_residue_and_follows_blosum62():
    from scipy.stats import chisquare

    rng = np.random.default_rng(0)
    for original in ("L", "W", "C"):
        drawn = blosum_substitute(original * 20000, rng)
        assert original not in drawn
        counts = np.array([drawn.count(b) for b in STANDARD])
        expected = blosum_probabilities()[original] * len(drawn)
        keep = expected > 0
        assert chisquare(counts[keep], expected[keep]).pvalue > 0.001
    # the substitutions BLOSUM62 favours come first: I for L, F/Y for W
    p = blosum_probabilities()
    assert STANDARD[int(np.argmax(p["L"]))] in "IM" and STANDARD[int(np.argmax(p["W"]))] in "FY"


def test_the_report_pieces(planted, tmp_path):
    from pslmodels.faithfulness import figure_deletion, study_table

    faith = faithfulness(MotifReader(), _rows(planted), perturbations=("blosum",)).assign(model="motif")
    table = study_table(faith)
    assert list(table.columns[:2]) == ["model", "method"] and set(table.model) == {"motif"}
    figure_deletion(faith, tmp_path / "faithfulness.png")
    assert (tmp_path / "faithfulness.png").stat().st_size > 10_000
