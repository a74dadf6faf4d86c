"""One command from corpus to a hamrun HAMburger model directory.

    nice -n 10 python3 Tools/train/train_all.py --out Models/shakespeare-hamburger

Stages (intermediate results go to --work, default ~/.cache/hamrun/train-work,
and are reused when present and made with the same settings):
  1. data       corpus download + split (data.py), BPE tokenizer, token ids
  2. base       pretrain the Llama base model (next-token loss)
  3. segment    per-token entropy of the base model over train + validation
                text, split into steps of 1..max_steps tokens
  4. hamburger  graft compositional embedder + micro-step decoder + stop head
                and train everything (token CE + 0.5 * stop BCE)
  5. export     model directory (bfloat16 safetensors, config, tokenizer)
  6. evaluate   evaluate.py: perplexities, tokens per step, confidence sweep;
                writes eval.json and the recommended confidence to config.json
  7. fixture    make_fixture.py: Tests/Fixtures/shakespeare-ref/expected.json

Everything is seeded and runs with 2 threads and deterministic algorithms.
--precision bf16 runs matmuls under CPU bfloat16 autocast (as the authors'
bf16 training); f32 keeps them in float32. The default, auto, takes bf16 only
where the CPU multiplies bf16 natively (AVX512-BF16 / AMX): elsewhere oneDNN's
fallback is some 35x slower than float32.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from typing import List

# OpenMP threads that spin while waiting make a shared (oversubscribed) CPU
# up to 10x slower; passive waiting does not change any result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from hamburger_model import HamburgerLM, ModelConfig, build_ham_batch  # noqa: E402
from model_io import export_model_dir  # noqa: E402
from segmentation import segment  # noqa: E402
from stages import work_dirs  # noqa: E402

T0 = time.time()


def log(*a):
    print(f"[{(time.time() - T0) / 60:6.2f} min]", *a, flush=True)


def autocast(a):
    """The matmul precision of --precision (resolved in main)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")


def native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup_determinism(threads: int):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------- stage 1
def stage_data(a, work):
    path = os.path.join(work, "data.pt")
    if os.path.exists(path):
        return torch.load(path)
    texts = data.fetch_corpus(a.cache)
    train, val = data.split_corpus(texts)
    tok = data.train_tokenizer([t for _, t in train], a.vocab)
    tok_path = os.path.join(work, "tokenizer.json")
    tok.save(tok_path)
    bos = tok.token_to_id("<|begin_of_text|>")
    eos = tok.token_to_id("<|end_of_text|>")

    def stream(parts):
        ids, starts = [], []
        encs = tok.encode_batch([t for _, t in parts], add_special_tokens=False)
        for (name, _), e in zip(parts, encs):
            starts.append(len(ids))
            ids.extend(e.ids)
            ids.append(eos)
        return torch.tensor(ids, dtype=torch.int32), starts

    train_ids, train_docs = stream(train)
    val_ids, val_docs = stream(val)
    # tokens that end with a newline: the next token starts a line
    nl = torch.tensor([("\n" in tok.decode([i])) for i in range(a.vocab)])
    d = {"train_ids": train_ids, "val_ids": val_ids, "train_docs": train_docs,
         "val_docs": val_docs, "val_names": [n for n, _ in val],
         "val_texts": [t for _, t in val], "newline_tok": nl, "bos": bos, "eos": eos,
         "tokenizer": tok_path,
         "chars": (sum(len(t) for _, t in train), sum(len(t) for _, t in val))}
    torch.save(d, path)
    return d


def line_starts(ids: torch.Tensor, nl: torch.Tensor, limit: int) -> torch.Tensor:
    """Positions p (p + limit <= len) whose previous token ends a line."""
    prev_nl = nl[ids[:-1].long()]
    p = torch.nonzero(prev_nl).flatten() + 1
    return p[p + limit <= len(ids)]


def model_config(a, d) -> ModelConfig:
    L = a.layers
    step = L // 4
    feats = sorted(L - 1 - step * i for i in range(4) if L - 1 - step * i >= 0)
    return ModelConfig(
        vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
        num_hidden_layers=L, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
        rms_norm_eps=1e-5, rope_theta=10000.0,
        rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 512},
        max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=d["bos"], eos_token_id=d["eos"],
        max_steps=4, num_micro_layers=a.micro_layers, feature_layers=feats,
        merger_heads=a.merger_heads)


def init_weights(module: nn.Module, n_layers: int):
    for name, p in module.named_parameters():
        if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            nn.init.ones_(p)
        elif name.endswith(".bias"):
            nn.init.zeros_(p)
        elif name.endswith("merger.pos"):
            nn.init.xavier_normal_(p)
        elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
            nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layers))
        else:
            nn.init.normal_(p, std=0.02)


def cosine_lr(step, total, warmup, peak, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t))


# --------------------------------------------------------------------- stage 2
def plain_windows(ids, starts, bos, T):
    """[B, T+1]: BOS + T tokens from each start."""
    rows = [torch.cat([torch.tensor([bos], dtype=torch.long), ids[s:s + T].long()]) for s in starts]
    return torch.stack(rows)


@torch.no_grad()
def plain_val_loss(m, d, T, bf16, max_windows=None):
    """Mean next-token CE over the validation stream, non-overlapping windows
    of T tokens each preceded by BOS (quick monitor during training)."""
    ids = d["val_ids"]
    n = (len(ids) - 1) // T
    if max_windows:
        n = min(n, max_windows)
    tot, cnt = 0.0, 0
    for i in range(0, n, 16):
        x = plain_windows(ids, [j * T for j in range(i, min(n, i + 16))], d["bos"], T)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            lg = m.logits(m.base_hidden(x[:, :-1]))
        tot += float(F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), x[:, 1:].reshape(-1),
                                     reduction="sum"))
        cnt += x[:, 1:].numel()
    return tot / cnt


def stage_base(a, d, work, cfg):
    path = os.path.join(work, "base.pt")
    if os.path.exists(path):
        m = HamburgerLM(cfg, with_hamburger=False)
        m.load_state_dict(torch.load(path))
        return m
    torch.manual_seed(1)
    m = HamburgerLM(cfg, with_hamburger=False)
    init_weights(m, cfg.num_hidden_layers)
    n_params = sum(p.numel() for p in m.parameters())
    log(f"base model: {n_params / 1e6:.2f}M parameters")
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in m.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.base_lr, betas=(0.9, 0.95))
    T = a.seq
    cand = line_starts(d["train_ids"], d["newline_tok"], T)
    g = torch.Generator().manual_seed(2)
    t_last = time.time()
    hist = []
    for step in range(a.base_steps):
        lr = cosine_lr(step, a.base_steps, a.warmup, a.base_lr, a.base_lr * 0.1)
        for grp in opt.param_groups:
            grp["lr"] = lr
        starts = cand[torch.randint(len(cand), (a.batch,), generator=g)].tolist()
        x = plain_windows(d["train_ids"], starts, d["bos"], T)
        with autocast(a):
            lg = m.logits(m.base_hidden(x[:, :-1]))
        loss = F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        hist.append(float(loss.detach()))
        if (step + 1) % a.log_every == 0 or step + 1 == a.base_steps:
            dt = time.time() - t_last
            t_last = time.time()
            msg = (f"base step {step + 1}/{a.base_steps} loss {sum(hist[-a.log_every:]) / len(hist[-a.log_every:]):.3f}"
                   f" lr {lr:.2e} {a.log_every * a.batch * T / dt:.0f} tok/s")
            if (step + 1) % (a.log_every * 5) == 0 or step + 1 == a.base_steps:
                msg += f" | val loss {plain_val_loss(m, d, T, a.precision == 'bf16', max_windows=48):.3f}"
            log(msg)
    torch.save(m.state_dict(), path)
    return m


# --------------------------------------------------------------------- stage 3
@torch.no_grad()
def entropies(m, ids, bos, bf16, C=256, stride=192, batch=32):
    """H[i] = entropy (nats) of the base model's distribution for token i,
    from windows of C-1 tokens after BOS with the given stride; each position
    is taken from a window where it has >= C-1-stride tokens of context
    (positions near the start of the stream: fewer)."""
    n = len(ids)
    W = C - 1
    starts = list(range(0, max(1, n - W + stride), stride))
    H = torch.full((n,), float("nan"))
    t0 = time.time()
    for i in range(0, len(starts), batch):
        if i and i % (batch * 40) == 0:
            log(f"  entropy {i}/{len(starts)} windows, {i * stride / (time.time() - t0):.0f} tok/s")
        ss = starts[i:i + batch]
        rows, lens = [], []
        for s in ss:
            seg = ids[s:s + W].long()
            lens.append(len(seg))
            rows.append(torch.cat([torch.tensor([bos]), seg, torch.zeros(W - len(seg), dtype=torch.long)]))
        x = torch.stack(rows)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            lg = m.logits(m.base_hidden(x[:, :-1]))
        lg = lg.float()
        ent = torch.logsumexp(lg, -1) - (torch.softmax(lg, -1) * lg).sum(-1)   # [B, W]
        for s, L, e in zip(ss, lens, ent):
            lo = 0 if s == 0 else W - stride
            H[s + lo:s + L] = e[lo:L]
    assert not torch.isnan(H).any()
    return H


def stage_segment(a, d, work_base, work, base):
    """Entropies are cached next to the base model, the segmentation (which
    depends on the thresholds) in the segmentation work dir."""
    path = os.path.join(work, "segments.pt")
    if os.path.exists(path):
        return torch.load(path)
    ent_path = os.path.join(work_base, "entropy.pt")
    if os.path.exists(ent_path):
        ent = torch.load(ent_path)
    else:
        base.eval()
        ent = {split: entropies(base, d[split + "_ids"], d["bos"], a.precision == "bf16") for split in ("train", "val")}
        torch.save(ent, ent_path)
    out = {}
    for split in ("train", "val"):
        H = ent[split]
        steps = segment(H.tolist(), 4, a.seg_min, a.seg_ratio)
        out[f"{split}_steps"] = torch.tensor(steps, dtype=torch.int8)
        hist = torch.bincount(out[f"{split}_steps"].long(), minlength=5)[1:].tolist()
        log(f"segmented {split}: {len(H)} tokens -> {len(steps)} steps, "
            f"{len(H) / len(steps):.3f} tokens/step, sizes 1..4: {hist}, mean entropy {H.mean():.3f}")
    torch.save(out, path)
    return out


# --------------------------------------------------------------------- stage 4
def ham_samples(ids, step_lens, starts_pool, bos, M, pmin, pmax, g, n):
    """n training samples (prefix, steps) with exactly M macro slots: prefix
    = BOS + tokens from a line start up to a step boundary (>= P tokens, P
    uniform in [pmin, pmax]), then M - len(prefix) steps."""
    bounds = torch.cumsum(step_lens.long(), 0) - step_lens.long()   # step start positions
    out = []
    while len(out) < n:
        a0 = int(starts_pool[torch.randint(len(starts_pool), (1,), generator=g)])
        P = int(torch.randint(pmin, pmax + 1, (1,), generator=g))
        k = int(torch.searchsorted(bounds, a0 + P - 1))
        if k >= len(bounds):
            continue
        b = int(bounds[k])
        prefix = [bos] + ids[a0:b].tolist()
        K = M - len(prefix)
        if K < 8 or k + K > len(bounds):
            continue
        steps, p = [], b
        for sl in step_lens[k:k + K].tolist():
            steps.append(ids[p:p + sl].tolist())
            p += sl
        out.append((prefix, steps))
    return out


def ham_loss(m, batch):
    logits, stops, tgt, stop_tgt = m.ham_forward(batch)
    ce = F.cross_entropy(logits.float(), tgt)
    bce = F.binary_cross_entropy_with_logits(stops.float(), stop_tgt)
    return ce, bce


def stage_hamburger(a, d, seg, work, base, cfg):
    path = os.path.join(work, "hamburger.pt")
    m = HamburgerLM(cfg, with_hamburger=True)
    if os.path.exists(path):
        m.load_state_dict(torch.load(path))
        return m
    torch.manual_seed(3)
    init_weights(m.comp_embedder, cfg.num_micro_layers)
    init_weights(m.micro_step_decoder, cfg.num_micro_layers)
    missing, unexpected = m.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("comp_embedder", "micro_step_decoder")) for k in missing)
    n_new = sum(p.numel() for n, p in m.named_parameters() if not n.startswith("model."))
    log(f"HAMburger modules: {n_new / 1e6:.2f}M new parameters")
    base_p = [p for n, p in m.named_parameters() if n.startswith("model.")]
    new_p = [p for n, p in m.named_parameters() if not n.startswith("model.")]
    opt = torch.optim.AdamW([{"params": base_p, "peak": a.ham_base_lr},
                             {"params": new_p, "peak": a.ham_new_lr}],
                            betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(4)
    pool = line_starts(d["train_ids"], d["newline_tok"], a.ham_macro * 5)
    t_last = time.time()
    hist = []
    ntok = 0
    for step in range(a.ham_steps):
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, a.ham_steps, a.warmup // 2, grp["peak"], grp["peak"] * 0.1)
        samples = ham_samples(d["train_ids"], seg["train_steps"], pool, d["bos"], a.ham_macro,
                              a.prefix_min, a.prefix_max, g, a.ham_batch)
        batch = build_ham_batch(samples)
        with autocast(a):
            ce, bce = ham_loss(m, batch)
        loss = ce + 0.5 * bce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        ntok += int(sum(len(t) for _, st in samples for t in st))
        hist.append((float(ce.detach()), float(bce.detach())))
        if (step + 1) % a.log_every == 0 or step + 1 == a.ham_steps:
            dt = time.time() - t_last
            t_last = time.time()
            h = hist[-a.log_every:]
            log(f"ham step {step + 1}/{a.ham_steps} ce {sum(x for x, _ in h) / len(h):.3f}"
                f" bce {sum(y for _, y in h) / len(h):.3f} {ntok / dt:.0f} target tok/s")
            ntok = 0
    torch.save(m.state_dict(), path)
    return m


# --------------------------------------------------------------------- main
BASE_KEYS = ["vocab", "hidden", "ffn", "layers", "heads", "kv_heads", "seq", "batch",
             "base_steps", "base_lr", "warmup", "precision"]
SEG_KEYS = ["seg_min", "seg_ratio"]
HAM_KEYS = ["precision", "micro_layers", "merger_heads", "ham_steps", "ham_batch",
            "ham_macro", "prefix_min", "prefix_max", "ham_base_lr", "ham_new_lr"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/hamrun/train-work"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/hamrun/shakespeare"))
    ap.add_argument("--fixture", default="Tests/Fixtures/shakespeare-ref/expected.json")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-fixture", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "f32"],
                    help="matmul precision (auto: bf16 where the CPU has native bf16)")
    ap.add_argument("--log-every", type=int, default=25)
    # sizes
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--micro-layers", type=int, default=4)
    ap.add_argument("--merger-heads", type=int, default=8)
    # base pretraining
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--base-steps", type=int, default=900)
    ap.add_argument("--base-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    # segmentation (authors' decreasing_v2 heuristic; min threshold as theirs)
    ap.add_argument("--seg-min", type=float, default=0.05)
    ap.add_argument("--seg-ratio", type=float, default=0.7,
                    help="authors: 0.3 (tuned for Llama 3.2 1B); see the model card")
    # HAMburger training
    ap.add_argument("--ham-steps", type=int, default=700)
    ap.add_argument("--ham-batch", type=int, default=16)
    ap.add_argument("--ham-macro", type=int, default=128, help="macro slots per sample")
    ap.add_argument("--prefix-min", type=int, default=4)
    ap.add_argument("--prefix-max", type=int, default=48)
    ap.add_argument("--ham-base-lr", type=float, default=3e-4)
    ap.add_argument("--ham-new-lr", type=float, default=1e-3)
    a = ap.parse_args()
    if a.precision == "auto":
        a.precision = "bf16" if native_bf16() else "f32"

    setup_determinism(a.threads)
    # base-K1 (data, tokenizer, base model) / seg-K2 (segmentation) / ham-K3 (HAMburger model,
    # evaluation by-products)
    wb, ws, wh = work_dirs(a.work, a, [("base", BASE_KEYS), ("seg", SEG_KEYS), ("ham", HAM_KEYS)])
    log(f"work dir {wh}; precision {a.precision}; load average {os.getloadavg()}")

    d = stage_data(a, wb)
    log(f"data: train {len(d['train_ids'])} tokens ({d['chars'][0]} chars), "
        f"validation {len(d['val_ids'])} tokens ({d['chars'][1]} chars)")
    cfg = model_config(a, d)
    log(f"config: {cfg}")
    base = stage_base(a, d, wb, cfg)
    log(f"base val loss (plain, {a.seq}-token windows): {plain_val_loss(base, d, a.seq, a.precision == 'bf16'):.4f}")
    seg = stage_segment(a, d, wb, ws, base)
    ham = stage_hamburger(a, d, seg, wh, base, cfg)
    export_model_dir(ham, a.out, d["tokenizer"], confidence=None)
    log(f"exported {a.out}; load average {os.getloadavg()}")
    if not a.skip_eval:
        subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "--model", a.out,
                        "--work", wh, "--write-confidence"], check=True)
        log(f"evaluated; load average {os.getloadavg()}")
    if not a.skip_fixture:
        subprocess.run([sys.executable, os.path.join(HERE, "make_fixture.py"), "--model", a.out,
                        "--work", wh, "--out", a.fixture], check=True)
        log("fixture written")
    log(f"done; total wall {(time.time() - T0) / 60:.1f} min; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
