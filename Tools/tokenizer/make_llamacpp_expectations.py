#!/usr/bin/env python3
"""Regenerates the llama.cpp tokenizer expectations under Tests/Fixtures/ (deterministic).

    python3 Tools/tokenizer/make_llamacpp_expectations.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf

Needs llama-cpp-python 0.3.36 (the reference; Tools/bench/compare.py builds it) and the `gguf`
package. It writes
  smollm2-tokenizer/vocabulary.json   the GGUF's tokenizer metadata (dump_gguf_vocabulary.py)
  smollm2-tokenizer/llamacpp.json     llama.cpp's ids for that vocabulary: 500+ texts (prose,
                                      source code, random Unicode, special tokens) with its own
                                      pre-tokenizer `smollm`, fewer with `gpt-2`, `qwen2` and
                                      `llama-bpe` put in its place; and every token's piece
  smollm2-tokenizer/chat.json         its chat template rendered (Jinja2, as Hugging Face's
                                      apply_chat_template does) and tokenized by llama.cpp
  smollm2-tokenizer/scalar-classes.json  how llama.cpp's pre-tokenizers class every code point
  llama3-tokenizer/llamacpp.json      llama.cpp's ids for Llama 3's vocabulary (from
                                      tokenizer.json, as a GGUF says it) with `llama-bpe`
Each variant is tokenized from a vocabulary-only GGUF written into a temporary directory.
"""
import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import gguf
import llama_cpp

import corpus
import dump_gguf_vocabulary
import textgen

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
REFERENCE = f"llama-cpp-python {llama_cpp.__version__}"

SMOLLM2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>",
                   "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
                   "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
                   "<jupyter_script>", "<empty_output>"]
FIXED_TEXTS = [
    "", " ", "  ", "\n", "Hello, world!", "I'm here. You're there. They'll've gone; it's 'quoted'.",
    "DON'T SHOUT, I'M HERE", "'S 'T 'RE 'VE 'M 'LL 'D 's't", "'\u017ft 'x '",
    "12345 1,000,000.50 3.14159 ٣٤٥ १२३ ²½Ⅻ①", "a1b2c3 x9y", " 7  8   9",
    "x   y  \t z\n\n\n w \r\n\r\n v", "   \n   \n", "trailing   ", "\t\ttabs\t",
    "def f(x):\n    return x ** 2\n", "$100.00 / 50% off!!! (yes?) [no] {maybe}",
    "naïve café Straße привет 日本語 안녕하세요 مرحبا नमस्ते", "e\u0301 a\u0308\u0323 x\u20dd",
    "😀 👍🏽 👨\u200d👩\u200d👧 🇯🇵", "\u00a0\u00a0nbsp \u3000ideographic \u2028line\u2029para \x85nel",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|>", "<|im_end|<|im_start|>", "<|im_start", "im_start|>", "< |im_end|>",
    "<reponame><repo_name>", "<filename>main.py<file_sep>", "<|endoftext|><|endoftext|>x",
    "text<|im_end|>text", " <|im_start|> ", "<<|im_start|>>", "<jupyter_text><jupyter_code>",
]


def special_text(rng: random.Random, names: list[str]) -> str:
    pool = names + ["<", ">", "|", "<|", "|>", "_", " ", "\n", "x", "im", "user", "assistant"] + \
        [n[:k] for n in names[:3] for k in range(1, len(n))]
    return "".join(rng.choice(pool) for _ in range(rng.randrange(1, 12)))


def texts(rng: random.Random, special: list[str]) -> dict[str, list[str]]:
    prose = corpus.shakespeare_text()
    code = textgen.source_code_text()
    return {
        "fixed": FIXED_TEXTS,
        "prose": textgen.slices(prose, rng, 150, 600),
        "source code": textgen.slices(code, rng, 120, 600),
        "random unicode": [textgen.random_text(rng) for _ in range(200)],
        "special tokens": [special_text(rng, special) for _ in range(80)],
        "long": [t[:3000] for t in textgen.long_texts(rng)],
    }


class Reference:
    """llama.cpp loaded from a vocabulary-only GGUF."""

    def __init__(self, path: Path):
        self.llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.vocab = self.llm._model.vocab

    def tokenize(self, text: str, parse_special: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=parse_special)

    def piece(self, token: int) -> bytes:
        buf = (llama_cpp.ctypes.c_char * 256)()
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        if n < 0:
            buf = (llama_cpp.ctypes.c_char * -n)()
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return bytes(buf[:n])


def write_vocab_gguf(path: Path, meta: dict, pre: str) -> None:
    """A vocabulary-only GGUF: llama.cpp's `vocab_only` loading reads the architecture name
    and the tokenizer keys."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model(meta["tokenizer.ggml.model"])
    w.add_tokenizer_pre(pre)
    w.add_token_list(meta["tokenizer.ggml.tokens"])
    w.add_token_types(meta["tokenizer.ggml.token_type"])
    w.add_token_merges(meta["tokenizer.ggml.merges"])
    for key, value in meta.items():
        if key.endswith("_token_id"):
            w.add_uint32(key, value)
        elif key in ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"):
            w.add_bool(key, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


def cases(ref: Reference, groups: dict[str, list[str]]) -> list[dict]:
    out = []
    for group, items in groups.items():
        for text in items:
            out.append({"group": group, "text": text, "ids": ref.tokenize(text, True),
                        "ids_special_as_text": ref.tokenize(text, False)})
    return out


def fnv1a64(pieces: list[bytes]) -> str:
    """FNV-1a over every piece, each after its length (4 bytes, little-endian)."""
    h = 0xCBF29CE484222325
    for p in pieces:
        for b in len(p).to_bytes(4, "little") + p:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def scalar_classes(ref: Reference) -> list[list[int]]:
    """Runs [first code point, class] of how the pre-tokenizer classes every scalar (0 other,
    1 letter, 2 number, 3 whitespace, 4 \\r or \\n), read from llama.cpp's own flags."""
    flags_of = llama_cpp_unicode_flags()
    runs: list[list[int]] = []
    for v in range(0x110000):
        if v in (0x0D, 0x0A):
            c = 4
        else:
            f = flags_of(v)
            c = 3 if f & 0x100 else 1 if f & 0x4 else 2 if f & 0x2 else 0
        if 0xD800 <= v < 0xE000:
            c = runs[-1][1]  # not scalars: continue the run
        if not runs or runs[-1][1] != c:
            runs.append([v, c])
    return runs


def llama_cpp_unicode_flags():
    """`unicode_cpt_flags_from_cpt` from libllama (a C++ function: its mangled name)."""
    import ctypes
    lib = ctypes.CDLL(llama_cpp.llama_cpp._lib._name)
    fn = getattr(lib, "_Z26unicode_cpt_flags_from_cptj")
    fn.restype = ctypes.c_uint16
    fn.argtypes = [ctypes.c_uint32]
    return fn


def llama3_metadata() -> dict:
    """Llama 3's tokenizer.json as GGUF metadata: tokens by id, added tokens as control
    tokens when special (user-defined otherwise), merges as "a b"; BOS <|begin_of_text|>,
    EOS <|eot_id|>, BOS added. (Every added token of this file is special.)"""
    tj = json.loads((FIXTURES / "llama3-tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tj["model"]["vocab"]
    n = max(vocab.values()) + 1
    added = {t["id"]: t for t in tj["added_tokens"]}
    n = max(n, max(added) + 1)
    tokens = [""] * n
    types = [1] * n
    for text, i in vocab.items():
        tokens[i] = text
    for i, t in added.items():
        tokens[i] = t["content"]
        types[i] = 3 if t["special"] else 4
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    by_text = {t: i for i, t in enumerate(tokens)}
    return {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.merges": merges, "tokenizer.ggml.bos_token_id": by_text["<|begin_of_text|>"],
            "tokenizer.ggml.eos_token_id": by_text["<|eot_id|>"], "tokenizer.ggml.add_bos_token": True}


CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
     {"role": "user", "content": "  Tell me a joke.  \n"}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "x"}],
    [{"role": "user", "content": "Write <|im_end|> literally"}],
    [{"role": "user", "content": "数学: 2+2=? 😀\n\n"}, {"role": "assistant", "content": "4"}],
    [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
    [],
]


def chat_cases(ref: Reference, template: str) -> list[dict]:
    """The template rendered as Hugging Face's apply_chat_template renders it (Jinja2 with
    trim_blocks and lstrip_blocks), tokenized by llama.cpp with special tokens parsed, as its
    chat does."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    compiled = env.from_string(template)
    out = []
    for messages in CONVERSATIONS:
        for gen in (True, False):
            text = compiled.render(messages=messages, add_generation_prompt=gen)
            out.append({"messages": messages, "add_generation_prompt": gen, "text": text,
                        "ids": ref.tokenize(text, True)})
    return out


def write(path: Path, value) -> None:
    """ASCII JSON: every reader then sees the same scalars (Foundation's JSONSerialization
    drops a raw U+FEFF inside a string, but not an escaped one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, type=Path, help="SmolLM2-135M-Instruct.Q4_1.gguf")
    args = ap.parse_args()

    out = FIXTURES / "smollm2-tokenizer"
    vocabulary = out / "vocabulary.json"
    sys.argv = ["", str(args.gguf), str(vocabulary)]
    dump_gguf_vocabulary.main()
    meta = json.loads(vocabulary.read_text(encoding="utf-8"))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        smollm = Reference(args.gguf)
        rng = random.Random(13)
        groups = texts(rng, SMOLLM2_SPECIAL)
        variants = {"smollm": cases(smollm, groups)}
        # The other pre-tokenizers on the same vocabulary: the fixed texts, some of each group.
        some = {g: items[:40] for g, items in groups.items()}
        for pre in ["gpt-2", "qwen2", "llama-bpe"]:
            path = tmp / f"smollm2-{pre}.gguf"
            write_vocab_gguf(path, meta, pre)
            variants[pre] = cases(Reference(path), some)
        pieces = [smollm.piece(i) for i in range(len(meta["tokenizer.ggml.tokens"]))]
        write(out / "llamacpp.json", {
            "reference": REFERENCE, "variants": variants,
            "pieces_fnv1a64": fnv1a64(pieces),
            "pieces": {str(i): pieces[i].hex() for i in list(range(40)) + list(range(48000, 49152, 97))},
            "special": {"bos": llama_cpp.llama_vocab_bos(smollm.vocab), "eos": llama_cpp.llama_vocab_eos(smollm.vocab),
                        "eot": llama_cpp.llama_vocab_eot(smollm.vocab),
                        "eog": [i for i in range(len(pieces)) if llama_cpp.llama_vocab_is_eog(smollm.vocab, i)],
                        "control": [i for i in range(len(pieces)) if llama_cpp.llama_vocab_is_control(smollm.vocab, i)]},
        })
        write(out / "chat.json", {"reference": f"Jinja2 + {REFERENCE}",
                                  "cases": chat_cases(smollm, meta["tokenizer.chat_template"])})
        write(out / "scalar-classes.json", {"reference": REFERENCE, "runs": scalar_classes(smollm)})

        l3 = llama3_metadata()
        path = tmp / "llama3.gguf"
        write_vocab_gguf(path, l3, "llama-bpe")
        llama3 = Reference(path)
        hf_cases = json.loads((FIXTURES / "llama3-tokenizer" / "cases.json").read_text(encoding="utf-8"))["cases"]
        special3 = [t for t, k in zip(l3["tokenizer.ggml.tokens"], l3["tokenizer.ggml.token_type"]) if k == 3]
        rng = random.Random(3)
        groups3 = {"tokenizer.json cases": [c["text"] for c in hf_cases],
                   "random unicode": [textgen.random_text(rng) for _ in range(150)],
                   "special tokens": [special_text(rng, special3[:8] + special3[-3:]) for _ in range(50)]}
        write(FIXTURES / "llama3-tokenizer" / "llamacpp.json", {
            "reference": REFERENCE, "pre": "llama-bpe", "cases": cases(llama3, groups3),
            "pieces_fnv1a64": fnv1a64([llama3.piece(i) for i in range(len(l3["tokenizer.ggml.tokens"]))]),
        })


if __name__ == "__main__":
    main()
