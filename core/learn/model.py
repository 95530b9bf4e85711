"""MultiTrackTransformer: predicts keyframed parameters per (track, step) token of a window.

Shapes follow ``core.data.batch``: B windows, K tracks, T steps, F features, R = len(REGRESSION_TARGETS),
D = d_model. The model reads only the input keys of a batch (features, track_kind, track_index,
track_mask, step_mask, context_values, context_given, context_key) and is TorchScript-scriptable.

Masking: attention keys are restricted to real steps of real tracks (``step_mask``, which implies
``track_mask``). A query row whose keys are all masked (a padded track in time attention, a step past
the end of the timeline in track attention) would give NaN in softmax, so such rows attend to every
key instead: their outputs are finite garbage at padded positions, and since padded tokens are never
keys of a row that has a valid key, they cannot reach any valid position.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.config import CLASSIFICATION_TARGETS, REGRESSION_TARGETS, ModelConfig
from core.data.batch import MODEL_FEATURES
from core.data.context import (
    GEOMETRY_HAS,
    GEOMETRY_MEAN,
    N_SUMMARY,
    N_SUMMARY_MEAN_ONLY,
    SUMMARY_FEATURES,
    TRACK_GIVEN_SHARE,
    TRACK_HAS,
    TRACK_INTERP_LOG,
    TRACK_KEY_LOGIT,
    TRACK_MEAN,
    TRACK_MEDIAN,
    TRACK_SPREAD,
)
from core.data.timeline import DIALECTS, PARAM_RANGES

MAX_TRACKS = 64  # rows of the learned track embedding; larger track indices share the last row
N_TRACK_KINDS = 2  # 0 video, 1 audio
# the stacking's buffers (core.learn.calibrate); weights written before they existed load without them
CALIBRATION_BUFFERS = ("calibrated", "blend", "const_reg", "const_key", "const_interp", "key_log_w")
# How fast the per-head trust in the same-track rule learns: the trust is 1.5 * sigmoid(RATE * p + log 2), 1.0
# at p = 0; Adam moves p by about lr per step, so without the factor a few hundred steps could not take a
# head's trust far from 1 where the rule misleads (a picture-in-picture track's corners differ clip to clip).
RULE_TRUST_RATE = 20.0
# what weights written by an older version may lack; loading fills them in (_default_calibration)
OPTIONAL_WEIGHTS = (
    *CALIBRATION_BUFFERS,
    "rule_trust",
    "interp_prior_everywhere",
    "interp_evidence",
    "range_lo",
    "range_hi",
    "skip_own_only",
    "rule_median_spread",
)


def blend(c: Tensor, a: Tensor, b: Tensor, model: Tensor, rule: Tensor) -> Tensor:
    """The stacking of one head (core.learn.calibrate): c + a * (model - c) + b * (rule - c)."""
    return c + a * (model - c) + b * (rule - c)


class SelfAttention(nn.Module):
    """Multi-head self-attention over (N, S, D) sequences with a key validity mask.

    No dropout on the attention weights: on CPU it forces the unfused SDPA path and doubles the step
    time; the blocks drop out the residual branches instead.
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        # x (N, S, D); key_mask (N, S) bool, True = may be attended to
        n, s, d = x.shape
        qkv = self.qkv(x).view(n, s, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # (3, N, H, S, Dh)
        # a row with no valid key would softmax over all -inf -> NaN: let it attend to everything instead
        key_mask = key_mask | ~key_mask.any(dim=-1, keepdim=True)
        attn_mask = key_mask[:, None, None, :]  # (N, 1, 1, S), broadcast over heads and queries
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask)  # (N, H, S, Dh)
        return self.out(y.transpose(1, 2).reshape(n, s, d))


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _PreNormBlock(nn.Module):
    """What both blocks end with: the pre-norm feed-forward half, and dropout on every residual branch.

    Subclasses build their attention first and then call ``add_feed_forward``, so parameters are created
    (and initialised from the seed) in the same order as always.
    """

    def add_feed_forward(self, cfg: ModelConfig) -> None:
        self.norm_ff = nn.LayerNorm(cfg.d_model)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def feed_forward(self, x: Tensor) -> Tensor:
        return x + self.drop(self.ff(self.norm_ff(x)))


class FullBlock(_PreNormBlock):
    """Pre-norm block attending over all K*T tokens of a window."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm_attn = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads)
        self.add_feed_forward(cfg)

    def forward(self, x: Tensor, step_mask: Tensor) -> Tensor:
        # x (B, K, T, D); step_mask (B, K, T) bool
        b, k, t, d = x.shape
        h = self.attn(self.norm_attn(x).reshape(b, k * t, d), step_mask.reshape(b, k * t))  # (B, K*T, D)
        return self.feed_forward(x + self.drop(h.view(b, k, t, d)))


class FactorisedBlock(_PreNormBlock):
    """Pre-norm block: attention within each track over time, then across tracks at each step, then FFN."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm_time = nn.LayerNorm(cfg.d_model)
        self.time_attn = SelfAttention(cfg.d_model, cfg.n_heads)
        self.norm_track = nn.LayerNorm(cfg.d_model)
        self.track_attn = SelfAttention(cfg.d_model, cfg.n_heads)
        self.add_feed_forward(cfg)

    def forward(self, x: Tensor, step_mask: Tensor) -> Tensor:
        # x (B, K, T, D); step_mask (B, K, T) bool
        b, k, t, d = x.shape
        h = self.time_attn(self.norm_time(x).reshape(b * k, t, d), step_mask.reshape(b * k, t))  # (B*K, T, D)
        x = x + self.drop(h.view(b, k, t, d))
        xt = self.norm_track(x).transpose(1, 2).reshape(b * t, k, d)  # (B*T, K, D)
        h = self.track_attn(xt, step_mask.transpose(1, 2).reshape(b * t, k))  # (B*T, K, D)
        return self.feed_forward(x + self.drop(h.view(b, t, k, d).transpose(1, 2)))


class MultiTrackTransformer(nn.Module):
    """Transformer over (track, step) tokens; one head per regression target / classification head."""

    def __init__(self, cfg: ModelConfig, n_features: int):
        super().__init__()
        self.cfg = cfg
        self.n_features = n_features
        self.d_model = cfg.d_model
        n_ctx = 2 * len(REGRESSION_TARGETS) + 1 + N_SUMMARY  # context values, flags, key, timeline summary
        self.input = nn.Linear(n_features + n_ctx, cfg.d_model)
        # The timeline summary also reaches every head directly (zero at start): "the mean of the given
        # clips on this track" is a linear function of it, so the model can match that rule exactly and
        # spend its depth on where to depart from it.
        n_out = len(cfg.targets) + sum(CLASSIFICATION_TARGETS[name] for name in cfg.classify)
        self.summary_skip = nn.Linear(N_SUMMARY, n_out)
        nn.init.zeros_(self.summary_skip.weight)
        nn.init.zeros_(self.summary_skip.bias)
        # A regression head's skip reads its own target's value columns only (means, medians, spread), without
        # bias, flags or counts. Summaries are heavy-tailed in standardised units (a picture-in-picture track's
        # centre spread is 13), and a dense skip learned on training programmes carried that into other heads:
        # on a validation programme whose clips are all unrotated, a small weight from the centre spread rotated
        # a twelfth of the clips. Its bias and flag weights were a fixed offset from the rule on every track with
        # given clips (+0.2 standardised scale where the given clips all sat at 100 %, as did the others); what
        # departs from the rule is the gated network's to learn, per token. Class heads read every column, with
        # bias. Weights written before: dense, as then.
        mask, bias_mask = skip_mask(cfg)
        self.register_buffer("skip_mask", mask, persistent=False)  # (n_out, N_SUMMARY)
        self.register_buffer("skip_bias_mask", bias_mask, persistent=False)  # (n_out,)
        self.register_buffer("skip_own_only", torch.ones((), dtype=torch.bool))
        self.track_emb = nn.Embedding(MAX_TRACKS, cfg.d_model)
        self.kind_emb = nn.Embedding(N_TRACK_KINDS, cfg.d_model)
        half = (cfg.d_model + 1) // 2
        inv_freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)  # (D/2,)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        block = FactorisedBlock if cfg.attention == "factorised" else FullBlock
        self.blocks = nn.ModuleList([block(cfg) for _ in range(cfg.n_layers)])
        self.norm = nn.LayerNorm(cfg.d_model)
        # Each regression head is a gated deviation from a learned resting value: out = rest + sigmoid(g) * d.
        # Real targets are zero-inflated (rotation 0, pan 0, scale 100 on most clips; a few clips far off);
        # a closed gate gives exactly the resting value whatever the token, where a plain linear head
        # leaves a little feature noise on every clip, which the near-constant heads pay for in full.
        self.regression = nn.ModuleDict({name: nn.Linear(cfg.d_model, 2) for name in cfg.targets})
        self.rest = nn.Parameter(torch.zeros(len(cfg.targets)))
        for head in self.regression.values():  # gates start nearly closed (sigmoid(-3) = 0.05): a clip
            nn.init.constant_(head.bias[1:], -3.0)  # departs from the resting value only where it pays
        # The same-track rule is the prior every head starts from (core.learn.rules.same_track_outputs):
        # where the token's track has given clips, a regression head rests on their mean instead of its
        # learned resting value, and the class heads add the given clips' key rate / interpolation
        # logits. At initialisation the model is that rule; training learns where to depart from it.
        r_idx = [REGRESSION_TARGETS.index(name) for name in cfg.targets]
        self.register_buffer("rule_mean_idx", torch.tensor([TRACK_MEAN.start + r for r in r_idx]), persistent=False)
        self.register_buffer("rule_has_idx", torch.tensor([TRACK_HAS.start + r for r in r_idx]), persistent=False)
        self.register_buffer("rule_median_idx", torch.tensor([TRACK_MEDIAN.start + r for r in r_idx]), persistent=False)
        # The rule's value is a learned mix per head of the given clips' mean and median on the track
        # (median_share(): 0.5 at the start; one odd clip among the given moves the mean, not the median).
        # Weights written before the median existed keep the mean alone (median_in_rule False).
        self.rule_median = nn.Parameter(torch.zeros(len(cfg.targets)))
        self.register_buffer("median_in_rule", torch.ones((), dtype=torch.bool))
        # ... and that share moves with the spread of the track's given values (a learned slope per head, 0 at
        # the start and in weights written before it): one clip rotated -157.5 degrees among unrotated ones
        # pulls the mean far off and leaves a large spread, where the median is what the other clips do.
        self.register_buffer("rule_spread_idx", torch.tensor([TRACK_SPREAD.start + r for r in r_idx]), persistent=False)
        self.rule_median_spread = nn.Parameter(torch.zeros(len(cfg.targets)))
        # In evaluation, where every given clip of the token's track holds one value, that value (ModelConfig)
        self.register_buffer("agree_rule", torch.tensor(bool(cfg.agree_rule)), persistent=False)
        # Where given clips of the token's source frame size exist in the timeline (the geometry block), the
        # rule moves towards their mean by a learned share per head (geometry_share(), 0.5 at the start), or
        # is their mean where the track itself has no given clip. Weights written before it: off.
        self.register_buffer("rule_geo_idx", torch.tensor([GEOMETRY_MEAN.start + r for r in r_idx]), persistent=False)
        geo_has_idx = torch.tensor([GEOMETRY_HAS.start + r for r in r_idx])
        self.register_buffer("rule_geo_has_idx", geo_has_idx, persistent=False)
        self.rule_geometry = nn.Parameter(torch.zeros(len(cfg.targets)))
        self.register_buffer("geometry_in_rule", torch.ones((), dtype=torch.bool))
        self.rule_given = TRACK_GIVEN_SHARE
        self.rule_key = TRACK_KEY_LOGIT
        self.rule_interp = TRACK_INTERP_LOG.start
        self.classification = nn.ModuleDict(
            {name: nn.Linear(cfg.d_model, CLASSIFICATION_TARGETS[name]) for name in cfg.classify}
        )
        # one learned trust per head in that prior (RULE_TRUST_RATE): 1.0 at the start and in weights written
        # before it existed, lower where training finds the rule misleading
        self.rule_trust = nn.Parameter(torch.zeros(len(cfg.targets) + len(cfg.classify)))
        # The interpolation prior of the summary reaches every token, given clips on its track or not: without
        # them it is the timeline's habit or its dialect's (core.data.context), which a structure-only
        # prediction needs most. Weights written before this added it only where the track had given clips.
        self.register_buffer("interp_prior_everywhere", torch.ones((), dtype=torch.bool))
        # How far the interpolation head's own logits are followed on a token of each dialect (Scalers'
        # interpolation_evidence, set by training; 1 = fully, as in weights written before it): on a dialect
        # training barely saw, the prediction stays near that dialect's prior in the summary. The token's
        # dialect is its one positive standardised dialect feature (a one-hot column is positive exactly
        # where it is set, unless training saw nothing else: then none is, and the weight is 1).
        self.register_buffer("interp_evidence", torch.ones(len(DIALECTS)))
        # Each regression head's output lies within its parameter's range (PARAM_RANGES, in standardised units,
        # set_target_ranges): an opacity above 100 % or a pan beyond hard left is never right, and where the
        # given clips all sit at 100 % opacity the network's departures above it cost in full. The clamp passes
        # the gradient straight through, so a token above the range still learns to come down. Unbounded
        # (+-inf) until set, and in weights written before it.
        self.register_buffer("range_lo", torch.full((len(cfg.targets),), -math.inf))
        self.register_buffer("range_hi", torch.full((len(cfg.targets),), math.inf))
        self.dialect_col = MODEL_FEATURES.index(f"dialect_{DIALECTS[0]}") if n_features == len(MODEL_FEATURES) else -1
        self.n_dialects = len(DIALECTS)
        self.trust_rate = RULE_TRUST_RATE
        self.log2 = math.log(2.0)
        # Per-head stacking fitted after training on held-out files (core.learn.calibrate): every head's
        # output becomes c + a * (model - c) + b * (rule - c), c the train constant of the token's track
        # kind, rule the same-track mean where the track has given clips; (a, b) per head, one pair for
        # tokens whose track has given clips and one (b = 0) for the rest. Identity until calibrated.
        n_heads = len(cfg.targets) + len(cfg.classify)
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))
        self.register_buffer("blend", torch.tensor([[1.0, 1.0, 0.0]] * n_heads))  # (H, 3): a_none, a_given, b_given
        self.register_buffer("const_reg", torch.zeros(len(cfg.targets), N_TRACK_KINDS))  # standardised means
        self.register_buffer("const_key", torch.zeros(N_TRACK_KINDS))  # key logit per kind
        self.register_buffer("const_interp", torch.zeros(CLASSIFICATION_TARGETS.get("interpolation", 3)))  # log p
        self.register_buffer("key_log_w", torch.zeros(()))  # log of the training positive-key weight
        # checkpoints written before calibration existed load as uncalibrated
        self._register_load_state_dict_pre_hook(self._default_calibration)

    def _default_calibration(self, state_dict, prefix, *args) -> None:
        for name in CALIBRATION_BUFFERS:
            state_dict.setdefault(prefix + name, getattr(self, name).detach().clone())
        state_dict.setdefault(prefix + "rule_trust", torch.zeros_like(self.rule_trust))  # full trust, as then
        state_dict.setdefault(prefix + "interp_prior_everywhere", torch.zeros((), dtype=torch.bool))
        state_dict.setdefault(prefix + "interp_evidence", torch.ones_like(self.interp_evidence))
        state_dict.setdefault(prefix + "range_lo", torch.full_like(self.range_lo, -math.inf))  # unbounded, as then
        state_dict.setdefault(prefix + "range_hi", torch.full_like(self.range_hi, math.inf))
        if prefix + "rule_median" not in state_dict:  # written before the robust track block: the mean alone
            state_dict[prefix + "rule_median"] = torch.zeros_like(self.rule_median)
            state_dict.setdefault(prefix + "median_in_rule", torch.zeros((), dtype=torch.bool))
        # written before the share followed the spread: a flat share, as then
        state_dict.setdefault(prefix + "rule_median_spread", torch.zeros_like(self.rule_median_spread))
        if prefix + "summary_skip.weight" in state_dict:  # written before the skip read its own head's columns
            state_dict.setdefault(prefix + "skip_own_only", torch.zeros((), dtype=torch.bool))
        if prefix + "rule_geometry" not in state_dict:  # written before the geometry block
            state_dict[prefix + "rule_geometry"] = torch.zeros_like(self.rule_geometry)
            state_dict.setdefault(prefix + "geometry_in_rule", torch.zeros((), dtype=torch.bool))
        # ... and its input and summary skip read fewer summary columns (blocks are only appended, the first
        # layout had N_SUMMARY_MEAN_ONLY): the new ones get zero weights
        for name, width in (("input.weight", self.input.in_features), ("summary_skip.weight", N_SUMMARY)):
            w = state_dict.get(prefix + name)
            if w is not None and width - (N_SUMMARY - N_SUMMARY_MEAN_ONLY) <= w.shape[1] < width:
                state_dict[prefix + name] = torch.cat([w, w.new_zeros(w.shape[0], width - w.shape[1])], dim=1)

    def set_interp_evidence(self, evidence: dict[str, float] | None) -> None:
        """Per-dialect weights of the interpolation logits (Scalers.baseline["interpolation_evidence"]);
        None (scalers written before it) keeps 1 everywhere."""
        if evidence:
            with torch.no_grad():
                self.interp_evidence.copy_(torch.tensor([float(evidence.get(d, 1.0)) for d in DIALECTS]))

    def set_target_ranges(self, target_mean, target_std) -> None:
        """Each regression head's PARAM_RANGES in the standardised units of these scalers (full
        REGRESSION_TARGETS order); unbounded where a parameter has no range."""
        with torch.no_grad():
            for j, name in enumerate(self.cfg.targets):
                r = REGRESSION_TARGETS.index(name)
                lo, hi = PARAM_RANGES.get(name, (None, None))
                m, s = float(target_mean[r]), float(target_std[r])
                self.range_lo[j] = -math.inf if lo is None else (lo - m) / s
                self.range_hi[j] = math.inf if hi is None else (hi - m) / s

    def trust(self) -> Tensor:
        """(H,) each head's trust in the same-track prior: 1.5 * sigmoid(RULE_TRUST_RATE * p + log 2), 1.0 at p = 0."""
        return 1.5 * torch.sigmoid(self.trust_rate * self.rule_trust + self.log2)

    def median_share(self, spread: Tensor | None = None) -> Tensor:
        """Each regression head's weight on the track median in the same-track prior (rest: the mean): (R_model,)
        where the track's given values do not spread, else broadcast with ``spread`` (..., R_model), the
        summary's track spread of each head's target."""
        logit = self.rule_median if spread is None else self.rule_median + self.rule_median_spread * spread
        share = torch.sigmoid(self.trust_rate * logit)
        return share * self.median_in_rule.to(share.dtype)

    def geometry_share(self) -> Tensor:
        """(R_model,) each regression head's move towards the given clips of the same source size (where
        the track has given clips itself; without them the rule is the same-size clips' mean)."""
        share = torch.sigmoid(self.trust_rate * self.rule_geometry)
        return share * self.geometry_in_rule.to(share.dtype)

    def positional_encoding(self, t: int, device: torch.device) -> Tensor:
        """Sinusoidal encoding of steps 0..t-1: (T, D)."""
        pos = torch.arange(t, device=device, dtype=torch.float32)[:, None]  # (T, 1)
        angles = pos * self.inv_freq[None, :]  # (T, D/2)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)[:, : self.d_model]

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        features = batch["features"]  # (B, K, T, F)
        step_mask = batch["step_mask"].to(torch.bool)  # (B, K, T)
        track_mask = batch["track_mask"].to(torch.bool)  # (B, K)
        step_mask = step_mask & track_mask[:, :, None]
        b, k, t, _ = features.shape
        inputs = torch.cat(
            [
                features,
                batch["context_values"].to(features.dtype),
                batch["context_given"].to(features.dtype),
                batch["context_key"].to(features.dtype)[..., None],
                batch["context_summary"].to(features.dtype),
            ],
            dim=-1,
        )  # (B, K, T, F+2R+1+S)
        x = self.input(inputs)  # (B, K, T, D)
        track_index = batch["track_index"].long().clamp(0, self.track_emb.num_embeddings - 1)  # (B, K)
        track_kind = batch["track_kind"].long().clamp(0, self.kind_emb.num_embeddings - 1)  # (B, K)
        x = x + (self.track_emb(track_index) + self.kind_emb(track_kind))[:, :, None, :]
        x = x + self.positional_encoding(t, x.device).to(x.dtype)  # broadcast over (B, K)
        x = self.drop(x)
        for blk in self.blocks:
            x = blk(x, step_mask)
        x = self.norm(x)  # (B, K, T, D)
        summary = batch["context_summary"].to(x.dtype)  # (B, K, T, S)
        own = self.skip_own_only.to(summary.dtype)
        mask = own * self.skip_mask + (1.0 - own)  # (n_out, S): all ones for weights written before the mask
        bias = self.summary_skip.bias * (own * self.skip_bias_mask + (1.0 - own))  # (n_out,)
        skip = F.linear(summary, self.summary_skip.weight * mask, bias)  # (B, K, T, n_out)
        track_mean = summary.index_select(-1, self.rule_mean_idx)  # (B, K, T, R_model)
        track_has = summary.index_select(-1, self.rule_has_idx)  # (B, K, T, R_model), 0/1
        share = self.median_share(summary.index_select(-1, self.rule_spread_idx))  # (B, K, T, R_model)
        track_rule = track_mean + share * (summary.index_select(-1, self.rule_median_idx) - track_mean)
        geo_has = summary.index_select(-1, self.rule_geo_has_idx) * self.geometry_in_rule.to(x.dtype)
        geo_pull = geo_has * (self.geometry_share() * track_has + (1.0 - track_has))  # all the way without a track rule
        rule = track_rule + geo_pull * (summary.index_select(-1, self.rule_geo_idx) - track_rule)  # (B, K, T, R_model)
        rule_has = track_has + geo_has - track_has * geo_has  # (B, K, T, R_model), 0/1
        given = (summary[..., self.rule_given] > 0).to(x.dtype)[..., None]  # (B, K, T, 1)
        trust = self.trust()  # (H,)
        out: dict[str, Tensor] = {}
        j = 0
        for name, head in self.regression.items():
            dg = head(x)  # (B, K, T, 2): deviation, gate logit
            h = rule_has[..., j] * trust[j]
            base = h * rule[..., j] + (1.0 - h) * self.rest[j]
            z = base + torch.sigmoid(dg[..., 1]) * dg[..., 0] + skip[..., j]  # (B, K, T)
            out[name] = z + (z.clamp(self.range_lo[j], self.range_hi[j]) - z).detach()  # straight-through
            j += 1
        n_reg = j
        for h, (name, head) in enumerate(self.classification.items()):
            c = head.out_features
            logits = head(x) + skip[..., j : j + c]  # (B, K, T, C)
            g = given * trust[n_reg + h]
            if name == "keyframe":
                key = summary[..., self.rule_key : self.rule_key + 1]
                logits = logits + g * torch.cat([torch.zeros_like(key), key], dim=-1)
            elif name == "interpolation":
                if self.dialect_col >= 0:
                    hot = features[..., self.dialect_col : self.dialect_col + self.n_dialects] > 0  # (B, K, T, D)
                    lift = self.interp_evidence.to(logits.dtype) - 1.0  # (D,)
                    logits = logits * (1.0 + (hot.to(logits.dtype) * lift).sum(-1, keepdim=True))
                if bool(self.interp_prior_everywhere):
                    g = torch.ones_like(given) * trust[n_reg + h]
                logits = logits + g * summary[..., self.rule_interp : self.rule_interp + c]
            out[name] = logits
            j += c
        if bool(self.calibrated):
            out = self.stack(out, batch, summary, track_mean, track_has, given)
        if bool(self.agree_rule) and not self.training:
            spread = summary.index_select(-1, self.rule_spread_idx)  # 0 where the given values are one value
            agree = (track_has > 0) & (spread.abs() <= 1e-6)  # (B, K, T, R_model)
            j = 0
            for name in self.regression.keys():
                out[name] = torch.where(agree[..., j], track_mean[..., j].to(out[name].dtype), out[name])
                j += 1
        return out

    def stack(
        self,
        out: dict[str, Tensor],
        batch: dict[str, Tensor],
        summary: Tensor,
        track_mean: Tensor,
        track_has: Tensor,
        given: Tensor,
    ) -> dict[str, Tensor]:
        """The calibrated outputs (see ``blend``): c + a * (model - c) + b * (rule - c) per head."""
        kind = batch["track_kind"].long().clamp(0, self.const_reg.shape[1] - 1)  # (B, K)
        g = given[..., 0]  # (B, K, T)
        h = 0
        j = 0
        res: dict[str, Tensor] = {}
        for name in self.regression.keys():
            c = self.const_reg[j][kind][:, :, None]  # (B, K, 1)
            has = track_has[..., j]  # (B, K, T)
            w = self.blend[h]
            a = has * w[1] + (1.0 - has) * w[0]
            res[name] = blend(c, a, has * w[2], out[name], track_mean[..., j])
            j += 1
            h += 1
        for name in self.classification.keys():
            w = self.blend[h]
            a = (g * w[1] + (1.0 - g) * w[0])[..., None]  # (B, K, T, 1)
            b = (g * w[2])[..., None]
            if name == "keyframe":
                # on the calibrated logit (training weighted positives by exp(key_log_w)), returned uncalibrated
                z = (out[name][..., 1] - out[name][..., 0] - self.key_log_w)[..., None]  # (B, K, T, 1)
                c = self.const_key[kind][:, :, None, None]  # (B, K, 1, 1)
                rule = summary[..., self.rule_key : self.rule_key + 1]
                z = blend(c, a, b, z, rule) + self.key_log_w
                res[name] = torch.cat([torch.zeros_like(z), z], dim=-1)
            else:
                m = torch.log_softmax(out[name], dim=-1)
                c = self.const_interp
                rule = summary[..., self.rule_interp : self.rule_interp + m.shape[-1]]
                res[name] = blend(c, a, b, m, rule)
            h += 1
        return res


def skip_mask(cfg: ModelConfig) -> tuple[Tensor, Tensor]:
    """((n_out, N_SUMMARY), (n_out,)) 0/1: the summary columns each output of the skip may read, and whether
    it has a bias. A regression head reads its own target's values (columns named ``*_<target>``, flags
    ``*_has_*`` excepted) without bias; a class head, every column with bias."""
    rows = [[c.endswith("_" + name) and "_has_" not in c for c in SUMMARY_FEATURES] for name in cfg.targets]
    n_class = sum(CLASSIFICATION_TARGETS[name] for name in cfg.classify)
    rows += [[True] * N_SUMMARY] * n_class
    bias = [False] * len(cfg.targets) + [True] * n_class
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(cfg: ModelConfig, n_features: int) -> MultiTrackTransformer:
    """Build the model of a config (a preset's fields are already resolved into ``cfg``)."""
    return MultiTrackTransformer(cfg, n_features)
