"""The study's models, top to bottom: embedding -> (CNN) -> BiLSTM or token MLP -> pooling -> classifier.

Architectures (``ModelConfig.arch``):

================  ==============================  =========================================
arch              encoder                         pooling
================  ==============================  =========================================
bilstm            BiLSTM                          final hidden states (forward + backward)
bilstm-att        BiLSTM                          additive attention (paper eq. 2)
bilstm-uniform    BiLSTM                          attention frozen to uniform (= mean)
cnn35[-att]       conv {3,5} -> BiLSTM            final states [or attention]
cnn3-5-7-11[-att] conv {3,5,7,11} -> BiLSTM       final states [or attention]
mlp-uniform       token MLP h_i = tanh(W x_i + b) uniform
mlp-trained       token MLP                       trained additive attention
mlp-preset        token MLP                       weights given per protein (a trained run's)
================  ==============================  =========================================

Every model returns ``(logits, alpha)``: logits (B, 10) and the per-residue weights it pooled
with, (B, L), or None for final-state pooling. Passing ``attention=`` replaces alpha (diagnostics
at inference, preset weights in training).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from pslindex.classes import CLASSES
from pslindex.errors import PslError
from pslmodels.data import VOCAB_SIZE

ARCHS: dict[str, dict] = {
    "bilstm": dict(encoder="lstm", kernels=(), pooling="last"),
    "bilstm-att": dict(encoder="lstm", kernels=(), pooling="attention"),
    "bilstm-uniform": dict(encoder="lstm", kernels=(), pooling="uniform"),
    "cnn35": dict(encoder="lstm", kernels=(3, 5), pooling="last"),
    "cnn35-att": dict(encoder="lstm", kernels=(3, 5), pooling="attention"),
    "cnn3-5-7-11": dict(encoder="lstm", kernels=(3, 5, 7, 11), pooling="last"),
    "cnn3-5-7-11-att": dict(encoder="lstm", kernels=(3, 5, 7, 11), pooling="attention"),
    "mlp-uniform": dict(encoder="mlp", kernels=(), pooling="uniform"),
    "mlp-trained": dict(encoder="mlp", kernels=(), pooling="attention"),
    "mlp-preset": dict(encoder="mlp", kernels=(), pooling="preset"),
}

PRESETS: dict[str, dict] = {
    # the authors' configuration, read from their released code (SPEC 10): embedding 20, 40 units per
    # direction, 2 layers, attention 512, dropout 0.5; per-architecture overrides in PAPER_OVERRIDES
    "paper": dict(embed_dim=20, hidden=40, layers=2, dropout=0.5, attention_dim=512, conv_channels=20,
                  mlp_hidden=80),
    # the `paper` preset before 2026-12-02 (dropout 0.3 and 20 filters per kernel for every model):
    # what reports/study.md's reduced runs of 2026-11 were trained with; kept so they stay loadable
    # and comparable (checkpoints carry their own sizes, so loading never needs it)
    "paper-v0": dict(embed_dim=20, hidden=40, layers=2, dropout=0.3, attention_dim=512, conv_channels=20,
                     mlp_hidden=80),
    # DeepLoc 1.0's sizes, for users with a GPU
    "deeploc": dict(embed_dim=32, hidden=256, layers=1, dropout=0.5, attention_dim=256, conv_channels=20,
                    mlp_hidden=256),
}

# Where the authors' runs differ by architecture: 10 filters per kernel for the {3,5} CNN; 5 per
# kernel and dropout 0.3 for the {3,5,7,11} CNN (issue 12).
PAPER_OVERRIDES: dict[str, dict] = {
    "cnn35": dict(conv_channels=10),
    "cnn35-att": dict(conv_channels=10),
    "cnn3-5-7-11": dict(conv_channels=5, dropout=0.3),
    "cnn3-5-7-11-att": dict(conv_channels=5, dropout=0.3),
}


@dataclass
class ModelConfig:
    arch: str = "bilstm-att"
    embed_dim: int = 20
    hidden: int = 40            # LSTM units per direction
    layers: int = 2
    dropout: float = 0.3
    attention_dim: int = 512    # size of u_i in the additive attention
    conv_channels: int = 20     # filters per kernel size
    mlp_hidden: int = 80        # token-MLP width
    vocab_size: int = VOCAB_SIZE
    n_classes: int = len(CLASSES)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise PslError(f"unknown model {self.arch!r}; choose one of {', '.join(ARCHS)}")

    @classmethod
    def from_preset(cls, arch: str, preset: str = "paper") -> ModelConfig:
        if preset not in PRESETS:
            raise PslError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        sizes = dict(PRESETS[preset])
        if preset == "paper":
            sizes.update(PAPER_OVERRIDES.get(arch, {}))
        return cls(arch=arch, **sizes)

    def to_dict(self) -> dict:
        return asdict(self)


class AdditiveAttention(nn.Module):
    """u_i = tanh(W h_i + b); alpha = softmax_i(u_i . c), over the unpadded positions only."""

    def __init__(self, in_dim: int, attention_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, attention_dim)
        self.context = nn.Parameter(torch.randn(attention_dim) / attention_dim**0.5)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        u = torch.tanh(self.proj(h))                    # (B, L, A)
        scores = u @ self.context                        # (B, L)
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of a padded batch within its own length; padding stays at the end. (B, L, D)."""
    L = x.shape[1]
    pos = torch.arange(L, device=x.device)[None, :]
    n = lengths.to(x.device)[:, None]
    index = torch.where(pos < n, n - 1 - pos, pos)                                  # (B, L)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class BiLSTM(nn.Module):
    """Bidirectional, multi-layer LSTM over a padded batch, exact for every sequence in it.

    The backward direction reads each sequence reversed within its own length, so padding only
    ever follows the real residues and never reaches a real residue's state. Dense padded tensors
    take the fused LSTM kernel; PyTorch's PackedSequence path with mixed lengths was 10x slower on
    CPU (bench/train_throughput.py), which is why this is not ``nn.LSTM(bidirectional=True)``.
    Dropout between layers as in ``nn.LSTM``.
    """

    def __init__(self, in_dim: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        dims = [in_dim] + [2 * hidden] * (layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in dims)
        self.backward_layers = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in dims)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, D) -> states (B, L, 2H) and the final forward + backward states (B, 2H)."""
        for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers, strict=True)):
            if i:
                x = self.drop(x)
            f, _ = fwd(x)                                                          # (B, L, H)
            b_rev, _ = bwd(reverse_padded(x, lengths))                              # (B, L, H), reversed time
            x = torch.cat([f, reverse_padded(b_rev, lengths)], dim=-1)              # (B, L, 2H)
        rows = torch.arange(x.shape[0], device=x.device)
        end = lengths.to(x.device) - 1
        return x, torch.cat([f[rows, end], b_rev[rows, end]], dim=1)


def uniform_weights(mask: torch.Tensor) -> torch.Tensor:
    """1/length on every unpadded position; (B, L)."""
    m = mask.float()
    return m / m.sum(dim=1, keepdim=True)


class PslModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        spec = ARCHS[config.arch]
        self.encoder, self.pooling, kernels = spec["encoder"], spec["pooling"], spec["kernels"]
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        in_dim = config.embed_dim
        # odd kernels with padding k//2 keep the length; kernel 11 -> padding 5
        self.convs = nn.ModuleList(nn.Conv1d(config.embed_dim, config.conv_channels, k, padding=k // 2)
                                   for k in kernels)
        if kernels:
            in_dim = config.conv_channels * len(kernels)
        if self.encoder == "lstm":
            self.lstm = BiLSTM(in_dim, config.hidden, config.layers, config.dropout)
            feat = 2 * config.hidden
        else:
            self.token_mlp = nn.Linear(in_dim, config.mlp_hidden)
            feat = config.mlp_hidden
        self.attention = AdditiveAttention(feat, config.attention_dim) if self.pooling == "attention" else None
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(feat, config.n_classes)

    @property
    def has_attention(self) -> bool:
        """Whether the model pools with per-residue weights (so they can be inspected or replaced)."""
        return self.pooling != "last"

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, attention: torch.Tensor | None = None):
        """tokens (B, L) int64, lengths (B,) -> logits (B, n_classes), alpha (B, L) or None."""
        B, L = tokens.shape
        mask = torch.arange(L, device=tokens.device)[None, :] < lengths.to(tokens.device)[:, None]  # (B, L)
        x = self.embed(tokens)                                                     # (B, L, E)
        if len(self.convs):
            xt = x.transpose(1, 2)                                                 # (B, E, L)
            x = torch.cat([F.relu(conv(xt)) for conv in self.convs], dim=1).transpose(1, 2)  # (B, L, C*K)
        if self.encoder == "lstm":
            h, last = self.lstm(x, lengths)                                         # (B, L, 2H), (B, 2H)
        else:
            h = torch.tanh(self.token_mlp(x))                                       # (B, L, M)
            last = None
        if self.pooling == "last" and attention is None:
            return self.head(self.drop(last)), None
        if attention is not None:
            alpha = attention.to(h.dtype) * mask
            alpha = alpha / alpha.sum(dim=1, keepdim=True).clamp_min(1e-12)
        elif self.pooling == "attention":
            alpha = self.attention(h, mask)
        elif self.pooling == "uniform":
            alpha = uniform_weights(mask)
        else:
            raise PslError(f"{self.config.arch} pools with given weights: pass attention=")
        pooled = (alpha.unsqueeze(-1) * h).sum(dim=1)                               # (B, feat)
        return self.head(self.drop(pooled)), alpha


class PresetPooled(nn.Module):
    """An ``mlp-preset`` model bundled with the trained run whose attention it pools with.

    Behaves like a model that pools with attention: ``forward`` without ``attention=`` takes the
    teacher's weights for the same input, so diagnostics and attributions treat it like any other
    (IG attributes to the student's embedding; the teacher always reads the real residues).
    """

    pooling = "preset"
    has_attention = True

    def __init__(self, model: PslModel, teacher: PslModel):
        super().__init__()
        self.model, self.teacher = model, teacher

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def embed(self) -> nn.Embedding:
        return self.model.embed

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, attention: torch.Tensor | None = None):
        if attention is None:
            with torch.no_grad():
                _, attention = self.teacher(tokens, lengths)
        return self.model(tokens, lengths, attention=attention)


def replace_attention(alpha: torch.Tensor, lengths: torch.Tensor, mode: str,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights that stand in for a model's attention at inference.

    ``uniform``: 1/length; ``permuted``: each protein's own weights shuffled over its residues (the
    multiset is kept); ``shifted``: each protein's own weights rotated by a random offset in
    [1, length) (multiset and local shape kept, peaks moved: the random-position control for
    window-based peptide extraction, which permuting destroys); ``random``: weights drawn uniformly
    at random and normalised; ``random-logits``: the authors' random attention (SPEC 10), U(0, 1)
    draws as the attention LOGITS, then the softmax (so weights differ by a factor below e). Shape (B, L).
    """
    B, L = alpha.shape
    mask = torch.arange(L, device=alpha.device)[None, :] < lengths.to(alpha.device)[:, None]
    if mode == "uniform":
        return uniform_weights(mask)
    out = torch.zeros_like(alpha)
    for i in range(B):
        n = int(lengths[i])
        if mode == "permuted":
            out[i, :n] = alpha[i, :n][torch.randperm(n, generator=generator).to(alpha.device)]
        elif mode == "shifted":
            offset = int(torch.randint(1, n, (1,), generator=generator)) if n > 1 else 0
            out[i, :n] = torch.roll(alpha[i, :n], offset)
        elif mode == "random":
            w = torch.rand(n, generator=generator).to(alpha.device)
            out[i, :n] = w / w.sum()
        elif mode == "random-logits":  # the authors' random attention (SPEC 10): U(0, 1) logits, softmax
            out[i, :n] = torch.softmax(torch.rand(n, generator=generator, dtype=torch.float64), 0).to(alpha)
        else:
            raise PslError(f"unknown attention replacement {mode!r}; use uniform, permuted, shifted, random or "
                           "random-logits")
    return out
