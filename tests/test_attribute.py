"""Attributions and diagnostics on a tiny real run (issue 5 pieces)."""

import numpy as np
import pytest
import torch

from conftest import SHARED
from pslindex.attributions import read_attributions
from pslindex.errors import PslError
from pslmodels.attribute import attribute_proteins, kendall_tau, make_method
from pslmodels.data import collate, read_fasta
from pslmodels.diagnose import diagnose, jensen_shannon, total_variation
from pslmodels.model import ModelConfig, PslModel
from pslmodels.runs import load_model
from pslmodels.train import TrainConfig, train

DEEPLOC = SHARED / "data/deeploc/deeploc_data.fasta.gz"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "att"
    train(TrainConfig(model="bilstm-att", epochs=1, batch_size=10, max_train=30, max_length=300, max_eval=10,
                      seed=1, device="cpu", run_dir=str(run_dir), data=str(DEEPLOC), quiet=True))
    model, _ = load_model(run_dir)
    return model


@pytest.fixture(scope="module")
def proteins():
    test = [p for p in read_fasta(DEEPLOC) if p.is_test]
    long = next(p for p in test if len(p.sequence) > 1100)     # truncated: residues the model never sees
    return [long] + [p for p in test if len(p.sequence) < 200][:5]


@pytest.fixture(scope="module")
def frame(trained, proteins, tmp_path_factory):
    methods = [make_method(m, seed=0, n_steps=16) for m in ("attention", "permuted", "shifted", "random", "uniform",
                                                            "ig")]
    return attribute_proteins(trained, proteins, methods, run_id="t", batch_size=4, progress=False)


def test_schema_passes_the_hitrate_check(frame, tmp_path):
    path = tmp_path / "attributions.parquet"
    frame.to_parquet(path, index=False)
    back = read_attributions(path)
    assert len(back) == 6 * 6 and set(back.method) == {"attention", "permuted", "shifted", "random", "uniform", "ig"}


def test_full_coordinates_and_weights(frame, proteins):
    long = proteins[0]
    for method in ("attention", "permuted", "random", "uniform"):
        row = frame[(frame.method == method) & (frame.accession == long.accession)].iloc[0]
        s = np.asarray(row.scores)
        assert len(s) == len(long.sequence)
        assert np.isnan(s[500:len(s) - 500]).all() and not np.isnan(s[:500]).any()
        assert np.nansum(s) == pytest.approx(1.0, abs=1e-5)
    uni = np.asarray(frame[(frame.method == "uniform") & (frame.accession == long.accession)].iloc[0].scores)
    assert np.nanmax(uni) == pytest.approx(1 / 1000) and np.nanmin(uni) == pytest.approx(1 / 1000)


def test_permuted_keeps_the_multiset(frame, proteins):
    for p in proteins:
        att = np.asarray(frame[(frame.method == "attention") & (frame.accession == p.accession)].iloc[0].scores)
        per = np.asarray(frame[(frame.method == "permuted") & (frame.accession == p.accession)].iloc[0].scores)
        seen = ~np.isnan(att)
        np.testing.assert_allclose(np.sort(att[seen]), np.sort(per[seen]), rtol=1e-6)


def test_shifted_is_a_rotation_of_the_attention(frame, proteins):
    """The random-position control keeps the weights and their order, only moves them (within the seen residues)."""
    for p in proteins:
        att = np.asarray(frame[(frame.method == "attention") & (frame.accession == p.accession)].iloc[0].scores)
        sh = np.asarray(frame[(frame.method == "shifted") & (frame.accession == p.accession)].iloc[0].scores)
        seen = ~np.isnan(att)
        a, b = att[seen], sh[seen]
        offsets = [k for k in range(1, len(a)) if np.allclose(np.roll(a, k), b, rtol=1e-5, atol=1e-9)]
        assert offsets, p.accession
        assert not np.allclose(a, b)


def test_ig_completeness_within_delta(trained, frame, proteins):
    for p in proteins[1:3]:
        row = frame[(frame.method == "ig") & (frame.accession == p.accession)].iloc[0]
        b = collate([p])
        with torch.no_grad():
            target = int(np.argmax(row.probs))
            fx = trained(b.tokens, b.lengths)[0][0, target]
            fb = trained(torch.zeros_like(b.tokens), b.lengths)[0][0, target]
        total = float(np.nansum(row.scores))
        assert abs(total - float(fx - fb)) <= abs(row.ig_delta) + 1e-4
        assert abs(row.ig_delta) < 0.05


def test_ig_retries_once_where_delta_is_too_large(trained, proteins):
    from pslmodels.attribute import IntegratedGradients
    b = collate(proteins[1:3])
    coarse = IntegratedGradients(n_steps=2, tolerance=0.0, retry_steps=2).attribute(trained, b)
    retry = IntegratedGradients(n_steps=2, tolerance=0.0, retry_steps=16)
    refined = retry.attribute(trained, b)
    fine = IntegratedGradients(n_steps=16, tolerance=1e9).attribute(trained, b)
    # tolerance 0 sends every row to the one retry with 16 steps: the result is the 16-step one
    assert retry.retried == 2
    torch.testing.assert_close(refined.scores, fine.scores)
    torch.testing.assert_close(refined.delta, fine.delta)
    assert coarse.delta.abs().sum() >= fine.delta.abs().sum()


def test_kendall_tau_table(frame):
    tau = kendall_tau(frame)
    assert len(tau) == 6 and tau.tau.between(-1, 1).all()


def test_diagnostics_table_has_every_mode(trained, proteins):
    table = diagnose(trained, proteins, seeds=2)
    assert list(table["mode"]) == ["trained", "uniform", "permuted", "permuted", "random", "random",
                                   "random-logits", "random-logits"]
    trained_row = table.iloc[0]
    assert trained_row.jsd == 0 and trained_row.flip_rate == 0
    assert (table.jsd >= 0).all() and (table.tvd <= 1).all()


def test_divergences_hand_checked():
    p = np.array([[1.0, 0.0]])
    q = np.array([[0.0, 1.0]])
    assert jensen_shannon(p, q)[0] == pytest.approx(1.0)      # disjoint: 1 bit
    assert total_variation(p, q)[0] == pytest.approx(1.0)
    assert jensen_shannon(p, p)[0] == 0.0


def test_methods_that_need_attention(proteins):
    plain = PslModel(ModelConfig.from_preset("bilstm")).eval()
    b = collate(proteins[1:3])
    with pytest.raises(PslError, match="method 'attention' needs a model that pools with attention"):
        make_method("attention").attribute(plain, b)
    with pytest.raises(PslError, match="unknown attribution method 'saliency'"):
        make_method("saliency")
    # IG works for any model
    assert make_method("ig", n_steps=4).attribute(plain, b).scores.shape == b.tokens.shape


def test_occlusion_is_the_exact_drop_of_each_residue(trained, proteins):
    """Occlusion's score of residue i is f_t(x) - f_t(x with residue i as X), computed here directly."""
    from pslmodels.attribute import X_TOKEN

    frame = attribute_proteins(trained, proteins[:2], [make_method("occlusion", occlusion_tokens=500)], run_id="t",
                               progress=False)
    for p in proteins[:2]:
        row = frame[frame.accession == p.accession].iloc[0]
        b = collate([p])
        n = int(b.lengths[0])
        target = int(np.argmax(row.probs))
        scores = np.asarray(row.scores)
        seen = np.flatnonzero(~np.isnan(scores))
        assert len(seen) == n
        with torch.no_grad():
            base = trained(b.tokens, b.lengths)[0][0, target]
            for i in (0, n // 2, n - 1):
                copy = b.tokens.clone()
                copy[0, i] = X_TOKEN
                drop = float(base - trained(copy, b.lengths)[0][0, target])
                assert scores[seen[i]] == pytest.approx(drop, abs=1e-5)


def test_scores_pack_round_trip(frame, proteins, tmp_path):
    """The compact pack (GPU results back to this machine) keeps scores to float16 and voids unsound IG rows."""
    from pslindex.attributions import pack_scores, unpack_scores, unsound_ig

    marked = frame.copy()
    first_ig = marked.index[marked.method == "ig"][0]
    marked.loc[first_ig, "ig_delta"] = 1e6  # a row that does not add up
    pack_scores(marked, tmp_path / "p.npz", weights_sha256="abc")
    known = {p.accession: (p.sequence, p.label) for p in proteins}
    back = unpack_scores(tmp_path / "p.npz", known, weights_sha256="abc")
    assert len(back) == len(marked) and list(back.method) == list(marked.method)
    for (_, a), (_, b) in zip(marked.iterrows(), back.iterrows(), strict=True):
        if a.name == first_ig:
            assert np.isnan(b.scores).all() and unsound_ig(back.iloc[[a.name]])[0]
        else:
            np.testing.assert_allclose(b.scores, a.scores, rtol=2e-3, atol=1e-6)
    with pytest.raises(PslError, match="other weights"):
        unpack_scores(tmp_path / "p.npz", known, weights_sha256="def")
    with pytest.raises(PslError, match="not in the data set"):
        unpack_scores(tmp_path / "p.npz", dict(list(known.items())[1:]))
