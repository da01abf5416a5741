import pytest
import torch

from conftest import SHARED
from pslmodels.data import collate, read_fasta
from pslmodels.model import ARCHS, ModelConfig, PslModel, replace_attention, uniform_weights


@pytest.fixture(scope="module")
def proteins():
    return read_fasta(SHARED / "data/deeploc/deeploc_data.fasta.gz")[:6]


def small(arch):
    torch.manual_seed(0)
    return PslModel(ModelConfig(arch=arch, embed_dim=8, hidden=6, layers=2, attention_dim=7, conv_channels=4,
                                mlp_hidden=9)).eval()


@pytest.mark.parametrize("arch", list(ARCHS))
def test_padding_never_changes_the_output(arch, proteins):
    model = small(arch)
    short, long = proteins[0], max(proteins, key=lambda p: len(p.sequence))
    alone = collate([short])
    together = collate([short, long])
    assert together.tokens.shape[1] > alone.tokens.shape[1]
    preset = None
    if arch == "mlp-preset":
        torch.manual_seed(1)
        preset = torch.rand(together.tokens.shape)
    with torch.no_grad():
        a_logits, a_alpha = model(alone.tokens, alone.lengths,
                                  attention=None if preset is None else preset[:1, :alone.tokens.shape[1]])
        t_logits, t_alpha = model(together.tokens, together.lengths, attention=preset)
    torch.testing.assert_close(a_logits[0], t_logits[0], rtol=1e-5, atol=1e-6)
    if a_alpha is not None:
        n = int(alone.lengths[0])
        torch.testing.assert_close(a_alpha[0, :n], t_alpha[0, :n], rtol=1e-5, atol=1e-7)
        assert float(t_alpha[0, n:].abs().sum()) == 0.0           # no weight on padding
        torch.testing.assert_close(t_alpha.sum(1), torch.ones(2))


def test_uniform_attention_equals_mean_pooling(proteins):
    model = small("bilstm-uniform")
    b = collate(proteins[:3])
    with torch.no_grad():
        logits, alpha = model(b.tokens, b.lengths)
        # recompute by hand: mean of the BiLSTM states over each protein's residues
        h, _ = model.lstm(model.embed(b.tokens), b.lengths)
        means = torch.stack([h[i, :n].mean(0) for i, n in enumerate(b.lengths.tolist())])
        torch.testing.assert_close(logits, model.head(means))
    torch.testing.assert_close(alpha, uniform_weights(b.tokens != 0))


def test_bilstm_matches_torch_bidirectional_lstm(proteins):
    """Our dense BiLSTM equals nn.LSTM(bidirectional=True) on each sequence alone, weights copied."""
    from pslmodels.model import BiLSTM
    torch.manual_seed(0)
    ours = BiLSTM(5, 4, 2, dropout=0.0).eval()
    ref = torch.nn.LSTM(5, 4, 2, batch_first=True, bidirectional=True).eval()
    with torch.no_grad():
        for layer in range(2):
            for suffix, mine in (("", ours.forward_layers[layer]), ("_reverse", ours.backward_layers[layer])):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{layer}{suffix}").copy_(getattr(mine, f"{name}_l0"))
        lengths = torch.tensor([7, 3, 5])
        x = torch.randn(3, 7, 5)
        h, last = ours(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            out, (h_n, _) = ref(x[i:i + 1, :n])
            torch.testing.assert_close(h[i, :n], out[0])
            torch.testing.assert_close(last[i], torch.cat([h_n[-2, 0], h_n[-1, 0]]))


def test_replacement_modes(proteins):
    model = small("bilstm-att")
    b = collate(proteins[:4])
    with torch.no_grad():
        _, alpha = model(b.tokens, b.lengths)
    g = torch.Generator().manual_seed(0)
    permuted = replace_attention(alpha, b.lengths, "permuted", g)
    for i, n in enumerate(b.lengths.tolist()):
        assert torch.equal(torch.sort(permuted[i, :n]).values, torch.sort(alpha[i, :n]).values)  # same multiset
        assert not torch.equal(permuted[i, :n], alpha[i, :n])
        assert float(permuted[i, n:].sum()) == 0.0
    random = replace_attention(alpha, b.lengths, "random", torch.Generator().manual_seed(0))
    torch.testing.assert_close(random.sum(1), torch.ones(4))
    assert torch.equal(random, replace_attention(alpha, b.lengths, "random", torch.Generator().manual_seed(0)))
    uniform = replace_attention(alpha, b.lengths, "uniform")
    with torch.no_grad():
        out_u, used = model(b.tokens, b.lengths, attention=uniform)
        out_a, _ = model(b.tokens, b.lengths)
    torch.testing.assert_close(used, uniform)
    assert not torch.allclose(out_u, out_a)


def test_unknown_model_and_missing_preset(proteins):
    from pslindex.errors import PslError
    with pytest.raises(PslError, match="unknown model 'transformer'"):
        ModelConfig(arch="transformer")
    b = collate(proteins[:2])
    with pytest.raises(PslError, match="pass attention="):
        small("mlp-preset")(b.tokens, b.lengths)


def test_random_logits_is_a_softmax_of_uniform_draws():
    """SPEC 10: U(0, 1) logits then softmax, so within a protein max/min < e; padding stays 0."""
    import math

    from pslmodels.model import replace_attention

    lengths = torch.tensor([7, 400, 3])
    alpha = torch.zeros(3, 400)
    g = torch.Generator().manual_seed(0)
    w = replace_attention(alpha, lengths, "random-logits", g)
    for i, n in enumerate(lengths.tolist()):
        row = w[i, :n]
        assert torch.isclose(row.sum(), torch.tensor(1.0)) and (w[i, n:] == 0).all()
        assert (row.max() / row.min()).item() < math.e
    again = replace_attention(alpha, lengths, "random-logits", torch.Generator().manual_seed(0))
    assert torch.equal(w, again)
    # the other random control, normalised U(0, 1) weights, spreads much wider on a long protein
    plain = replace_attention(alpha, lengths, "random", torch.Generator().manual_seed(0))[1, :400]
    assert (plain.max() / plain.min()).item() > 10
