"""One command from the GGUF base to a HAMburger model directory for
SmolLM2-135M-Instruct (its model card: Models/smollm2-hamburger/README.md):

    nice -n 10 python3 Tools/train/smollm2/train.py --out Models/smollm2-hamburger

Stages (results go to --work, default ~/.cache/hamrun/train-smollm2, and are
reused when present and made with the same settings):
  1. answers    script-written prompts (prompts.py); the base model's greedy
                answers from `hamrun batch --mode base` on the GGUF
  2. segment    the base model's entropy at every answer token (PyTorch,
                float32 on the dequantized GGUF), decreasing_v2 steps
  3. hamburger  graft the compositional embedder, micro-step decoder and stop
                head on the base, frozen at exactly the GGUF's dequantized
                weights (transformers, gguf_file=), and train them on
                token CE + 0.5 x stop BCE
  4. export     the model directory: config.json with base_gguf, the modules
                in bfloat16 safetensors
  5. evaluate   evaluate.py: tokens per step, KV slots per token, agreement
                and judge NLL at confidences 0.5..0.95; the recommendation
  6. fixture    make_fixture.py: the PyTorch side's golden generations

Everything is seeded; training is float32 on --threads threads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(TRAIN))
sys.path.insert(0, TRAIN)
sys.path.insert(0, HERE)
import distill  # noqa: E402
import prompts as prompt_source  # noqa: E402
from base_gguf import GGUF_NAME, default_gguf, load_base, load_tokenizer, write_model_dir  # noqa: E402
from hamburger_model import build_ham_batch  # noqa: E402
from segmentation import segment  # noqa: E402
from stages import work_dirs  # noqa: E402
from train_all import cosine_lr, ham_loss, init_weights  # noqa: E402

T0 = time.time()


def log(*a):
    print(f"[{(time.time() - T0) / 60:6.2f} min]", *a, flush=True)


# --------------------------------------------------------------------- stage 1
def stage_answers(a, work, tok):
    path = os.path.join(work, "answers.json")
    if os.path.exists(path):
        return json.load(open(path))
    train_p, held_p = prompt_source.make_prompts(a.prompts, a.held_out, seed=0)
    out = {}
    for split, ps in (("train", train_p), ("held_out", held_p)):
        ids = [distill.chat_ids(tok, p) for p in ps]
        res = distill.run_batch(a.hamrun, a.gguf, [{"prompt_ids": i, "max_tokens": a.answer_tokens, "mode": "base"}
                                                   for i in ids],
                                os.path.join(work, f"{split}.results.jsonl"), a.parallel, log)
        out[split] = [{"prompt": p, "prompt_ids": i, "answer": r["tokens"], "finish_reason": r["finish_reason"]}
                      for p, i, r in zip(ps, ids, res)]
    json.dump(out, open(path + ".partial", "w"))
    os.replace(path + ".partial", path)
    return out


# --------------------------------------------------------------------- stage 2
def stage_segment(a, work, answers):
    path = os.path.join(work, "segments.json")
    if os.path.exists(path):
        return json.load(open(path))
    base = load_base(a.gguf, ham_shape(a)).eval()
    ent = distill.answer_entropies(base, [(s["prompt_ids"], s["answer"]) for s in answers["train"]], log)
    segs = [segment(e.tolist(), 4, a.seg_min, a.seg_ratio) for e in ent]
    n_tok = sum(len(e) for e in ent)
    n_steps = sum(len(s) for s in segs)
    hist = [sum(s.count(k) for s in segs) for k in range(1, 5)]
    log(f"segmented: {n_tok} answer tokens -> {n_steps} steps, {n_tok / n_steps:.3f} tokens/step, sizes 1..4: {hist}, "
        f"mean entropy {sum(float(e.sum()) for e in ent) / n_tok:.3f}")
    out = {"steps": segs, "tokens_per_step": n_tok / n_steps, "sizes": hist}
    json.dump(out, open(path + ".partial", "w"))
    os.replace(path + ".partial", path)
    return out


# --------------------------------------------------------------------- stage 3
def ham_shape(a) -> dict:
    return {"max_steps": 4, "num_micro_layers": a.micro_layers,
            "feature_layers": [int(x) for x in a.feature_layers.split(",")], "merger_heads": a.merger_heads}


def training_samples(answers, seg):
    """(prompt ids, answer split into its macro steps) per training prompt."""
    out = []
    for s, lens in zip(answers["train"], seg["steps"]):
        steps, p = [], 0
        for n in lens:
            steps.append(s["answer"][p:p + n])
            p += n
        out.append((s["prompt_ids"], steps))
    return out


def stage_hamburger(a, work, answers, seg):
    """The base stays frozen: its weights are the GGUF's, so hamrun runs what
    was trained with no requantization; gradients still flow through it into
    the compositional embedder, which must learn merged inputs the frozen base
    can read."""
    path = os.path.join(work, "hamburger.pt")
    m = load_base(a.gguf, ham_shape(a))
    if os.path.exists(path):
        m.load_state_dict(torch.load(path), strict=False)
        return m
    torch.manual_seed(a.seed + 3)
    init_weights(m.comp_embedder, a.micro_layers)
    init_weights(m.micro_step_decoder, a.micro_layers)
    new_p = [p for p in m.parameters() if p.requires_grad]
    log(f"HAMburger modules: {sum(p.numel() for p in new_p) / 1e6:.2f}M trained parameters, base frozen")
    opt = torch.optim.AdamW(new_p, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    samples = training_samples(answers, seg)
    rng = random.Random(a.seed + 4)
    order, hist, ntok = [], [], 0
    t_last = time.time()
    for step in range(a.ham_steps):
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, a.ham_steps, a.warmup, a.lr, a.lr * 0.1)
        if len(order) < a.ham_batch:
            perm = list(range(len(samples)))
            rng.shuffle(perm)
            order += perm
        pick, order = order[:a.ham_batch], order[a.ham_batch:]
        batch = build_ham_batch([samples[i] for i in pick])
        ce, bce = ham_loss(m, batch)
        loss = ce + 0.5 * bce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(new_p, 1.0)
        opt.step()
        ntok += sum(len(t) for i in pick for t in samples[i][1])
        hist.append((float(ce.detach()), float(bce.detach())))
        if (step + 1) % a.log_every == 0 or step + 1 == a.ham_steps:
            dt = time.time() - t_last
            t_last = time.time()
            h = hist[-a.log_every:]
            log(f"ham step {step + 1}/{a.ham_steps} ce {sum(x for x, _ in h) / len(h):.3f}"
                f" bce {sum(y for _, y in h) / len(h):.3f} {ntok / dt:.0f} target tok/s, {dt / len(h):.1f} s/step")
            ntok = 0
    torch.save({k: v for k, v in m.state_dict().items() if not k.startswith("model.")}, path + ".partial")
    os.replace(path + ".partial", path)
    return m


# --------------------------------------------------------------------- main
DATA_KEYS = ["prompts", "held_out", "answer_tokens"]
SEG_KEYS = ["seg_min", "seg_ratio"]
HAM_KEYS = ["micro_layers", "merger_heads", "feature_layers", "ham_steps", "ham_batch", "lr", "warmup", "seed"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--gguf", default=default_gguf(), help="the base model (Tools/fetch-models fetches it)")
    ap.add_argument("--hamrun", default=os.path.join(ROOT, ".build/release/hamrun"))
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/hamrun/train-smollm2"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "Tests/Fixtures/smollm2-hamburger-ref/expected.json"))
    ap.add_argument("--until", choices=["answers", "segment", "hamburger", "export", "evaluate", "fixture"],
                    default="fixture")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=16, help="hamrun batch sequences in flight")
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--held-out", type=int, default=64)
    ap.add_argument("--answer-tokens", type=int, default=96)
    ap.add_argument("--seg-min", type=float, default=0.05)
    ap.add_argument("--seg-ratio", type=float, default=0.3)
    ap.add_argument("--micro-layers", type=int, default=4)
    ap.add_argument("--merger-heads", type=int, default=18)
    ap.add_argument("--feature-layers", default="8,15,22,29")
    ap.add_argument("--ham-steps", type=int, default=260)
    ap.add_argument("--ham-batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    if not os.path.exists(a.gguf):
        sys.exit(f"error: {a.gguf} does not exist; Tools/fetch-models fetches it")
    if not os.path.exists(a.hamrun):
        sys.exit(f"error: {a.hamrun} does not exist; build it with swift build -c release")
    wd, ws, wh = work_dirs(a.work, a, [("data", DATA_KEYS), ("seg", SEG_KEYS), ("ham", HAM_KEYS)])
    log(f"work dir {wh}; load average {os.getloadavg()}")
    tok = load_tokenizer(a.gguf)
    answers = stage_answers(a, wd, tok)
    if a.until == "answers":
        return
    seg = stage_segment(a, ws, answers)
    if a.until == "segment":
        return
    m = stage_hamburger(a, wh, answers, seg)
    if a.until == "hamburger":
        return
    write_model_dir(m, a.out, GGUF_NAME, confidence=None)
    log(f"exported {a.out}")
    if a.until == "export":
        return
    subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "--model", a.out, "--gguf", a.gguf,
                    "--hamrun", a.hamrun, "--work", wh, "--answers", os.path.join(wd, "answers.json"),
                    "--max-new", str(a.answer_tokens), "--write-confidence"], check=True)
    log("evaluated")
    if a.until == "evaluate":
        return
    subprocess.run([sys.executable, os.path.join(HERE, "make_fixture.py"), "--model", a.out, "--gguf", a.gguf,
                    "--answers", os.path.join(wd, "answers.json"), "--out", a.fixture], check=True)
    log(f"fixture written; total wall {(time.time() - T0) / 60:.1f} min")


if __name__ == "__main__":
    main()
