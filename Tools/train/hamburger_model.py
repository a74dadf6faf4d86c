"""A small Llama and the HAMburger modules (compositional embedder, micro-step
decoder, stop head), written for hamrun's training tools.

Module and parameter names follow the Hugging Face Llama names and the
HAMburger authors' names, so `state_dict()` is already in hamrun's model
directory format (docs/MODEL_FORMAT.md) and the authors' checkpoints load
after stripping the Lightning `model.` prefix.

Semantics (see shared/README.md and the paper, arXiv 2505.20438):
  * macro step 0 = prefill of the prompt, unmerged, RoPE positions 0..T-1;
  * every later macro step feeds ONE input, the previous step's tokens merged
    by the compositional embedder (a single token: its plain embedding), at the
    RoPE position of the last of those tokens;
  * micro step 0 = lm_head(final-norm output); micro step i >= 1 runs the micro
    decoder over [features of `feature_layers` at the last position, embeddings
    of the tokens chosen so far] at RoPE positions 0, 1, 2, ...; its last output
    goes to lm_head without a final norm;
  * the stop head sees the same vector as lm_head; a macro step ends when
    1 - sigmoid(stop) < confidence, or after max_steps tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# configuration


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 8
    num_key_value_heads: int = 4
    head_dim: Optional[int] = None
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = True
    bos_token_id: int = 0
    eos_token_id: object = 0
    # HAMburger
    max_steps: int = 4
    num_micro_layers: int = 4
    feature_layers: List[int] = field(default_factory=lambda: [3, 7, 11, 15])
    merger_heads: int = 64
    # The micro-step decoder's rows attend causally, the features and the first
    # token included: the authors run its layers with FlashAttention-2 and no
    # mask, in training and inference (their gpt-fast port masks q >= kv).

    def __post_init__(self):
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads

    @staticmethod
    def from_hf(cfg: dict, ham: Optional[dict] = None) -> "ModelConfig":
        ham = dict(ham if ham is not None else cfg.get("hamburger", {}))
        # transformers 5 keeps RoPE's settings in `rope_parameters` (theta included), 4.x at the top
        rope = dict(cfg.get("rope_parameters") or {})
        theta = cfg.get("rope_theta", rope.pop("rope_theta", 10000.0))
        scaling = cfg.get("rope_scaling") or (rope if rope.get("rope_type", "default") != "default" else None)
        c = ModelConfig(
            vocab_size=cfg["vocab_size"],
            hidden_size=cfg["hidden_size"],
            intermediate_size=cfg["intermediate_size"],
            num_hidden_layers=cfg["num_hidden_layers"],
            num_attention_heads=cfg["num_attention_heads"],
            num_key_value_heads=cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
            head_dim=cfg.get("head_dim"),
            rms_norm_eps=cfg.get("rms_norm_eps", 1e-5),
            rope_theta=theta,
            rope_scaling=scaling,
            max_position_embeddings=cfg.get("max_position_embeddings", 2048),
            tie_word_embeddings=cfg.get("tie_word_embeddings", False),
            bos_token_id=cfg.get("bos_token_id"),
            eos_token_id=cfg.get("eos_token_id"),
            max_steps=ham.get("max_steps", 4),
            num_micro_layers=ham.get("num_micro_layers", 4),
            feature_layers=list(ham.get("feature_layers", [3, 7, 11, 15])),
            merger_heads=ham.get("merger_heads", 64),
        )
        if ham.get("micro_attention", "causal") != "causal":
            raise ValueError(f"micro_attention {ham['micro_attention']!r}: only 'causal' is the "
                             "authors' semantics (FlashAttention-2, no mask)")
        return c


# --------------------------------------------------------------------------
# Llama building blocks


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rope_inv_freq(cfg: ModelConfig) -> torch.Tensor:
    """Inverse frequencies, with Llama 3 ("llama3") scaling when configured."""
    dim = cfg.head_dim
    exps = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    inv_freq = 1.0 / (cfg.rope_theta ** exps)
    rs = cfg.rope_scaling
    if rs is None or rs.get("rope_type", rs.get("type")) in (None, "default"):
        return inv_freq
    if rs.get("rope_type", rs.get("type")) != "llama3":
        raise ValueError(f"unsupported rope_scaling {rs}")
    factor = rs["factor"]
    lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
    old_len = rs["original_max_position_embeddings"]
    lo_wavelen = old_len / lo
    hi_wavelen = old_len / hi
    wavelen = 2 * math.pi / inv_freq
    # long wavelengths: divide by factor; short ones: keep; in between: blend.
    scaled = torch.where(wavelen > lo_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - lo) / (hi - lo)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    middle = ~(wavelen < hi_wavelen) * ~(wavelen > lo_wavelen)
    return torch.where(middle, blended, scaled)


class Rotary(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.register_buffer("inv_freq", rope_inv_freq(cfg), persistent=False)

    def forward(self, positions: torch.Tensor):
        """positions [B, T] (int) -> cos, sin [B, T, head_dim] float32"""
        freqs = positions[..., None].float() * self.inv_freq.float()
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    # x [B, heads, T, hd]; cos/sin [B, T, hd]
    cos = cos[:, None].to(x.dtype)
    sin = sin[:, None].to(x.dtype)
    return x * cos + _rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.nh = cfg.num_attention_heads
        self.nkv = cfg.num_key_value_heads
        self.hd = cfg.head_dim
        D = cfg.hidden_size
        self.q_proj = nn.Linear(D, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(D, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(D, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, D, bias=False)

    def forward(self, x, cos, sin, cache: Optional[dict] = None, mask=None):
        """x [B, T, D]. cache: {'k','v'} tensors [B, nkv, S, hd] that are
        extended in place (inference). mask: None = causal (the T new queries
        attend to all cached keys and causally among themselves), "full" = no
        mask, or a boolean [T, S] tensor (True = may attend)."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        past = 0
        if cache is not None:
            if "k" in cache:
                past = cache["k"].shape[2]
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        rep = self.nh // self.nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if cache is None:
            if mask is None:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            elif isinstance(mask, str):
                o = F.scaled_dot_product_attention(q, k, v)
            else:
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            # explicit float math for inference (exactness over speed)
            assert mask is None or isinstance(mask, str)
            S = k.shape[2]
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            if T > 1 and mask is None:
                qi = torch.arange(T)[:, None] + past
                kj = torch.arange(S)[None, :]
                scores = scores.masked_fill(kj > qi, float("-inf"))
            o = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        o = o.transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        D, Fd = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(D, Fd, bias=False)
        self.up_proj = nn.Linear(D, Fd, bias=False)
        self.down_proj = nn.Linear(Fd, D, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, cache=None, mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaBody(nn.Module):
    """`model.*` of a Hugging Face LlamaForCausalLM."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.rotary = Rotary(cfg)

    def forward(self, x, positions, caches=None, want: Sequence[int] = ()):
        """x: input embeddings [B, T, D]. Returns (final-norm output, {layer:
        output of that layer}) -- for the last layer that is the final-norm
        output (as Hugging Face's hidden_states[-1])."""
        cos, sin = self.rotary(positions)
        feats = {}
        L = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i])
            if i in want and i != L - 1:
                feats[i] = x
        x = self.norm(x)
        if L - 1 in want:
            feats[L - 1] = x
        return x, feats


# --------------------------------------------------------------------------
# HAMburger modules


class AttentionMerger(nn.Module):
    """Cross attention from q_proj(mean(emb)) to k/v_proj(concat(emb, pos))."""

    def __init__(self, D: int, heads: int, max_steps: int):
        super().__init__()
        assert D % heads == 0 and D % 2 == 0
        self.D, self.heads, self.hs = D, heads, D // heads
        self.q_proj = nn.Linear(D, D)
        self.k_proj = nn.Linear(D + D // 2, D)
        self.v_proj = nn.Linear(D + D // 2, D)
        self.pos = nn.Parameter(torch.empty(max_steps, D // 2))
        nn.init.xavier_normal_(self.pos)

    def forward(self, emb):
        """emb [N, S, D] (S tokens of N steps of the same length) -> [N, D]"""
        N, S, D = emb.shape
        H, hs = self.heads, self.hs
        q = self.q_proj(emb.mean(dim=1)).view(N, H, hs)
        kv_in = torch.cat([emb, self.pos[:S].to(emb.dtype).expand(N, S, D // 2)], dim=-1)
        k = self.k_proj(kv_in).view(N, S, H, hs)
        v = self.v_proj(kv_in).view(N, S, H, hs)
        scores = torch.einsum("nhd,nshd->nhs", q, k) / (hs ** 0.5)
        att = torch.softmax(scores, dim=-1)
        return torch.einsum("nhs,nshd->nhd", att, v).reshape(N, D)


class CompositionalEmbedder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        D = cfg.hidden_size
        self.merger = AttentionMerger(D, cfg.merger_heads, cfg.max_steps)
        self.out_proj = nn.Linear(D, D)

    def merge(self, emb):
        """emb [N, S, D] -> [N, D]; S == 1 is the plain embedding."""
        if emb.shape[1] == 1:
            return emb[:, 0]
        return emb.mean(dim=1) + self.out_proj(self.merger(emb))


class MicroStepDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        D = cfg.hidden_size
        self.decoders = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_micro_layers)])
        self.stop_head = nn.Sequential(
            nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D), nn.SiLU(), nn.Linear(D, 1))
        self.rotary = Rotary(cfg)

    def forward(self, x, positions, caches=None, mask=None):
        cos, sin = self.rotary(positions)
        for i, layer in enumerate(self.decoders):
            x = layer(x, cos, sin, None if caches is None else caches[i], mask)
        return x


class HamburgerLM(nn.Module):
    def __init__(self, cfg: ModelConfig, with_hamburger: bool = True):
        super().__init__()
        self.cfg = cfg
        self.model = LlamaBody(cfg)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.has_ham = with_hamburger
        if with_hamburger:
            assert cfg.feature_layers[-1] == cfg.num_hidden_layers - 1, \
                "the last feature must be the final-norm output (micro step 0)"
            self.comp_embedder = CompositionalEmbedder(cfg)
            self.micro_step_decoder = MicroStepDecoder(cfg)

    def add_hamburger(self):
        if not self.has_ham:
            self.comp_embedder = CompositionalEmbedder(self.cfg)
            self.micro_step_decoder = MicroStepDecoder(self.cfg)
            self.has_ham = True

    # lm_head (tied to the embedding when configured)
    def logits(self, h):
        w = self.model.embed_tokens.weight if self.cfg.tie_word_embeddings else self.lm_head.weight
        return h @ w.t()

    def embed(self, ids):
        return self.model.embed_tokens(ids)

    # ---------------------------------------------------------------- base LM
    def base_hidden(self, ids, positions=None):
        if positions is None:
            positions = torch.arange(ids.shape[1])[None].expand(ids.shape[0], -1)
        h, _ = self.model(self.embed(ids), positions)
        return h

    # ------------------------------------------------------- HAMburger training
    def ham_forward(self, batch: dict):
        """Teacher-forced HAMburger forward over a batch built by
        `build_ham_batch`. Returns (logits [Ntok, V], stop logits [Ntok],
        token targets [Ntok], stop targets [Ntok])."""
        cfg = self.cfg
        B, M = batch["macro_len"]
        D = cfg.hidden_size
        emb_tok = self.embed(batch["tok_ids"])              # [Ntok_all, D] all tokens, flat
        x = emb_tok.new_zeros(B * M, D)
        # prefix slots: plain token embeddings
        x = x.index_put((batch["prefix_slot"],), emb_tok[batch["prefix_tok"]])
        # step slots: merged embeddings, grouped by step length
        for s, g in batch["groups"].items():
            e = emb_tok[g["tok_index"]]                     # [N, s, D]
            x = x.index_put((g["slot"],), self.comp_embedder.merge(e))
        x = x.view(B, M, D)
        want = cfg.feature_layers
        h, feats = self.model(x, batch["positions"], want=want)
        feat_stack = torch.stack([feats[i] for i in want], dim=2).view(B * M, len(want), D)
        nf = len(want)

        outs = []   # (vector [N, D], flat target index [N])
        # micro step 0 of every step: final-norm output at the slot before it
        f_all = feat_stack[batch["step_feat_slot"]]         # [Nsteps, nf, D]
        outs.append((f_all[:, -1], batch["step_first_tok"]))
        for s, g in batch["groups"].items():
            if s < 2:
                continue
            f = f_all[g["step_index"]]                     # [N, nf, D]
            e = emb_tok[g["tok_index"][:, : s - 1]]        # [N, s-1, D]
            seq = torch.cat([f, e], dim=1)
            pos = torch.arange(nf + s - 1)[None].expand(seq.shape[0], -1)
            # causal over [features, t0 .. t_{s-2}], as every inference call
            y = self.micro_step_decoder(seq, pos)[:, nf:]  # [N, s-1, D]
            outs.append((y.reshape(-1, D), g["tok_index"][:, 1:].reshape(-1)))
        vec = torch.cat([o[0] for o in outs], dim=0)
        tgt_idx = torch.cat([o[1] for o in outs], dim=0)
        logits = self.logits(vec)
        stops = self.micro_step_decoder.stop_head(vec).squeeze(-1)
        return logits, stops, batch["tok_ids"][tgt_idx], batch["tok_is_last"][tgt_idx]


# --------------------------------------------------------------------------
# batching for HAMburger training


def build_ham_batch(samples: List[Tuple[List[int], List[List[int]]]]) -> dict:
    """samples: (prefix ids incl. BOS, steps = lists of 1..max_steps ids).

    Layout: the macro sequence is the prefix (one slot per token, RoPE
    positions 0..P-1) followed by one slot per step at the RoPE position of the
    step's last token (P-1 + tokens so far). Step k is predicted from the slot
    before it (P-1+k). Samples with fewer macro slots than the longest are
    padded at the end with zero inputs, which causal attention keeps from
    every real slot."""
    M = max(len(p) + len(s) for p, s in samples)
    B = len(samples)
    tok_ids, tok_is_last = [], []
    prefix_slot, prefix_tok = [], []
    positions = []
    step_feat_slot, step_first_tok = [], []
    groups: Dict[int, dict] = {}
    for b, (prefix, steps) in enumerate(samples):
        base = b * M
        P = len(prefix)
        pos = list(range(P))
        for i, t in enumerate(prefix):
            prefix_slot.append(base + i)
            prefix_tok.append(len(tok_ids))
            tok_ids.append(t)
            tok_is_last.append(0)
        p = P - 1
        for k, st in enumerate(steps):
            s = len(st)
            idx = list(range(len(tok_ids), len(tok_ids) + s))
            tok_ids.extend(st)
            tok_is_last.extend([0] * (s - 1) + [1])
            p += s
            pos.append(p)
            g = groups.setdefault(s, {"slot": [], "tok_index": [], "step_index": []})
            g["slot"].append(base + P + k)
            g["tok_index"].append(idx)
            g["step_index"].append(len(step_feat_slot))
            step_feat_slot.append(base + P - 1 + k)
            step_first_tok.append(idx[0])
        pos.extend(range(p + 1, p + 1 + M - len(pos)))
        positions.append(pos)
    T = torch.tensor
    return {
        "macro_len": (B, M),
        "tok_ids": T(tok_ids, dtype=torch.long),
        "tok_is_last": T(tok_is_last, dtype=torch.float32),
        "prefix_slot": T(prefix_slot, dtype=torch.long),
        "prefix_tok": T(prefix_tok, dtype=torch.long),
        "positions": T(positions, dtype=torch.long),
        "step_feat_slot": T(step_feat_slot, dtype=torch.long),
        "step_first_tok": T(step_first_tok, dtype=torch.long),
        "groups": {s: {k: T(v, dtype=torch.long) for k, v in g.items()}
                   for s, g in sorted(groups.items())},
    }


# --------------------------------------------------------------------------
# inference (batch 1, float32, explicit KV caches)


@torch.no_grad()
def base_generate(m: HamburgerLM, prompt_ids: List[int], max_new_tokens: int,
                  eos_ids: Sequence[int] = ()):
    """Plain greedy decoding. Returns (last prompt logits, generated ids)."""
    caches = [dict() for _ in m.model.layers]
    ids = torch.tensor([prompt_ids])
    h, _ = m.model(m.embed(ids), torch.arange(len(prompt_ids))[None], caches)
    logits = m.logits(h[:, -1])[0]
    first = logits.clone()
    out = []
    pos = len(prompt_ids)
    while len(out) < max_new_tokens:
        t = int(torch.argmax(logits))
        out.append(t)
        if t in eos_ids:
            break
        h, _ = m.model(m.embed(torch.tensor([[t]])), torch.tensor([[pos]]), caches)
        pos += 1
        logits = m.logits(h[:, -1])[0]
    return first, out


def _top2(logits):
    v, i = torch.topk(logits, 2)
    return {"top2": [int(i[0]), int(i[1])],
            "top2_logits": [float(v[0]), float(v[1])],
            "logsumexp": float(torch.logsumexp(logits, dim=-1))}


@torch.no_grad()
def ham_generate(m: HamburgerLM, prompt_ids: List[int], confidence: float,
                 max_new_tokens: int, eos_ids: Sequence[int] = (), trace: bool = True):
    """Greedy HAMburger generation. Returns dict with steps, micro_trace,
    stop_probs. Stops after the step that reaches max_new_tokens, or after
    the step that contains an EOS token (as the authors' generate loop)."""
    cfg = m.cfg
    want = cfg.feature_layers
    caches = [dict() for _ in m.model.layers]
    T = len(prompt_ids)
    x = m.embed(torch.tensor([prompt_ids]))
    positions = torch.arange(T)[None]
    steps, micro_trace, stop_probs = [], [], []
    n_gen = 0
    while True:
        _, feats = m.model(x, positions, caches, want=want)
        f = torch.cat([feats[i][:, -1:] for i in want], dim=1)     # [1, nf, D]
        vec = f[:, -1]                                             # final-norm output
        mcaches = [dict() for _ in m.micro_step_decoder.decoders]
        toks = []
        mpos = 0
        pending = f
        while True:
            if toks:
                y = m.micro_step_decoder(
                    pending, torch.arange(mpos, mpos + pending.shape[1])[None], mcaches)
                mpos += pending.shape[1]
                vec = y[:, -1]
            logits = m.logits(vec)[0]
            p_stop = float(torch.sigmoid(m.micro_step_decoder.stop_head(vec)).view(-1)[0])
            t = int(torch.argmax(logits))
            if trace:
                micro_trace.append(_top2(logits))
            stop_probs.append(p_stop)
            e = m.embed(torch.tensor([[t]]))
            pending = torch.cat([f, e], dim=1) if not toks else e
            toks.append(t)
            if (1.0 - p_stop) < confidence or len(toks) >= cfg.max_steps:
                break
        steps.append(toks)
        n_gen += len(toks)
        if n_gen >= max_new_tokens or any(t in eos_ids for t in toks):
            break
        e = m.embed(torch.tensor([toks]))                         # [1, s, D]
        x = m.comp_embedder.merge(e)[:, None]                     # [1, 1, D]
        positions = torch.tensor([[T - 1 + n_gen]])
    return {"steps": steps, "micro_trace": micro_trace, "stop_probs": stop_probs}
