#!/usr/bin/env python3
"""Regenerate the tokenizer test expectations with Hugging Face tokenizers.

    python3 Tools/tokenizer/make_expectations.py

Writes, under Tests/Fixtures:
  tiny-tokenizer/expected.json      ids and decoded text of many texts (tiny tokenizer)
  tiny-tokenizer/synthetic/*.json   small hand-built tokenizers that exercise options the
                                    real ones leave unused (ignore_merges, unk_token and
                                    fuse_unk, bytes missing from the vocabulary, added-token
                                    flags), each with <name>.expected.json
  llama3-tokenizer/chat.json        chat prompts (Llama 3 and Llama 3.2 templates) as ids
  tiny-tokenizer/chat.json          the same for the tiny tokenizer
  llama3-tokenizer/decode.json      decode results, including ids that split characters
  llama3-tokenizer/pretokenize.json the pieces of the Split pre-tokenizer alone
  llama3-tokenizer/special-as-text.json  ids with encode_special_tokens=True
  llama3-tokenizer/scalar-classes.json   how the split pattern classes every code point
                                    (letter, number, whitespace, other, newline) as runs

Everything is deterministic (fixed seeds), so rerunning changes nothing unless the
reference library changes.
"""

import json
import random
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, pre_tokenizers

import corpus
import textgen

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
REFERENCE = f"HF tokenizers {tokenizers.__version__}"

FIXED_TEXTS = [
    "", " ", "\n", "Hello, world!", "I'm here. You're there! We've, they'll, he'd, it's",
    "I'M YOU'RE WE'VE THEY'LL HE'D IT'S", "'\u017fa 'sa 'Sa", "1234567890 ½ Ⅻ ٣٤٥",
    "naïve café résumé", "e\u0301 a\u0308\u0323", "日本語のテキスト", "emoji 😀👍🏽👨\u200d👩\u200d👧 🇯🇵",
    "  leading and trailing  ", "tabs\tand\t\tnewlines\n\n\r\n", "a\u00a0b\u3000c\u2028d",
    "<|begin_of_text|>hi<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|eot", "def f(x):\n    return x ** 2\n", "$100.00 / 50% off!!!", "   \n   \n",
    "x" * 300, " " * 100, "\u0301\u0301", "\x00\x01\x7f", "\ufeffBOM",
]


def cases_for(tok: Tokenizer, texts: list[str]) -> list[dict]:
    out = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=True).ids
        out.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    return out


def write(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # ASCII with \u escapes: Foundation's JSON reader on Linux drops a raw U+FEFF inside strings.
    path.write_text(json.dumps(value, ensure_ascii=True, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def tiny_expected() -> None:
    tok = Tokenizer.from_file(str(FIXTURES / "tiny-tokenizer" / "tokenizer.json"))
    rng = random.Random(3)
    texts = FIXED_TEXTS + [textgen.random_text(rng) for _ in range(150)]
    texts += textgen.slices(corpus.shakespeare_text(), rng, 30, 400)
    write(FIXTURES / "tiny-tokenizer" / "expected.json",
          {"tokenizer": "tokenizer.json", "reference": REFERENCE, "add_special_tokens": True,
           "cases": cases_for(tok, texts)})


# --- synthetic tokenizers -------------------------------------------------------------

LLAMA3_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
                " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def byte_alphabet() -> list[str]:
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + n))
            n += 1
    return out


def synthetic(name: str, *, ignore_merges=False, drop_bytes="", unk=None, fuse_unk=False,
              merges_as_pairs=False, extra_vocab=(), added=()) -> Tokenizer:
    alphabet = byte_alphabet()
    vocab = {}
    for b, ch in enumerate(alphabet):
        if chr(b) not in drop_bytes:
            vocab[ch] = len(vocab)
    if unk:
        vocab[unk] = len(vocab)
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("b", "c"), ("a", "b"), ("Ġ", "a"), ("l", "l"),
                 ("Ġ", "Ġ"), ("ĠĠ", "ĠĠ"), ("i", "n"), ("in", "g"), ("Ċ", "Ċ")]:
        if a in vocab and b in vocab:
            vocab.setdefault(a + b, len(vocab))
            merges.append([a, b] if merges_as_pairs else f"{a} {b}")
    for token in extra_vocab:  # reachable only through ignore_merges
        vocab.setdefault(token, len(vocab))
    spec = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": fuse_unk, "byte_fallback": False,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges},
    }
    tok = Tokenizer.from_str(json.dumps(spec))
    if added:
        tok.add_tokens(list(added))
    return tok


FLAG_TOKENS = [
    AddedToken("<sw>", single_word=True, normalized=False, special=False),
    AddedToken("[L]", lstrip=True, normalized=False, special=True),
    AddedToken("[R]", rstrip=True, normalized=False, special=True),
    AddedToken("[LR]", lstrip=True, rstrip=True, normalized=False, special=True),
    AddedToken("norm", normalized=True, special=False),
    AddedToken("abc", normalized=False, special=False),
    AddedToken("bcd", normalized=True, special=False),
    AddedToken("[LR]x", normalized=False, special=True),
    AddedToken("é!", single_word=True, normalized=True, special=False),
]

FLAG_TEXTS = [
    "<sw>", "a <sw> b", "a<sw>b", "a <sw>b", "_<sw>", "é<sw>", "1<sw>", "-<sw>-", "<sw><sw>",
    "x   [L] y", "x   [R]   y", "x [LR] y", "x\u00a0\u3000[LR]\n\ty", "[L][L]  [L]", " [R] [R] ",
    "norm normal NORM", "abcd", "xbcdy abc bcd", "abcbcd", "[LR]x [LR]", "é! é!x aé!",
    "the thing in the ring", "ab bc abc", "  \n\n", "ǅ<sw>", "a\u0301<sw>", "[L]", "   [L]", "[R]   ",
]

SYNTHETIC = {
    "flags": dict(added=FLAG_TOKENS),
    "ignore-merges": dict(ignore_merges=True, extra_vocab=["abc", "Ġthing", "ring", "ĠĠĠ"]),
    "merge-order": dict(ignore_merges=False, extra_vocab=["abc", "Ġthing", "ring", "ĠĠĠ"], merges_as_pairs=True),
    "missing-bytes": dict(drop_bytes="zq\n"),
    "unk-fused": dict(drop_bytes="zq\n", unk="<unk>", fuse_unk=True),
    "unk-unfused": dict(drop_bytes="zq\n", unk="<unk>", fuse_unk=False),
}

SYNTHETIC_TEXTS = FLAG_TEXTS + [
    "abc", "abcabc", "the thing", "ringing", "zzz", "quiz", "zebra\nquilt\n\n", "a zq b", "qq zz",
    "   x", "in king sing", "zqzq\nz", "😀z", "the abc ring",
]


def synthetic_fixtures() -> None:
    for name, options in SYNTHETIC.items():
        tok = synthetic(name, **options)
        path = FIXTURES / "tiny-tokenizer" / "synthetic" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tok.save(str(path), pretty=True)
        print(f"wrote {path.relative_to(ROOT)}")
        write(path.with_suffix(".expected.json"),
              {"tokenizer": path.name, "reference": REFERENCE, "add_special_tokens": True,
               "cases": cases_for(tok, SYNTHETIC_TEXTS)})


# --- chat prompts --------------------------------------------------------------------

def trim(s: str) -> str:
    return s.strip()  # Jinja's trim filter


def render_llama3(messages, add_generation_prompt: bool) -> str:
    out = "<|begin_of_text|>"
    for m in messages:
        out += f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{trim(m['content'])}<|eot_id|>"
    if add_generation_prompt:
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return out


def render_llama32(messages, add_generation_prompt: bool, date: str) -> str:
    system = ""
    if messages and messages[0]["role"] == "system":
        system = trim(messages[0]["content"])
        messages = messages[1:]
    out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    out += f"Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}<|eot_id|>"
    for m in messages:
        out += f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{trim(m['content'])}<|eot_id|>"
    if add_generation_prompt:
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return out


CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": "\n Hi there \t"},
     {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke."}],
    [{"role": "user", "content": "Write code:\n```python\nprint('hi')\n```"},
     {"role": "assistant", "content": " Sure:\n\n```python\nprint('hi')\n```\n"},
     {"role": "user", "content": "日本語で? 😀"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "\x1c trimmed by Python \x1f"}],
    [],
]


def chat_fixture(tokenizer_dir: str) -> None:
    tok = Tokenizer.from_file(str(FIXTURES / tokenizer_dir / "tokenizer.json"))
    cases = []
    for messages in CONVERSATIONS:
        for gen in (True, False):
            for fmt, date in (("llama3", None), ("llama32", "26 Jul 2024"), ("llama32", "01 Jan 2025")):
                text = render_llama3(messages, gen) if fmt == "llama3" else render_llama32(messages, gen, date)
                # apply_chat_template(tokenize=True) encodes the rendered text this way.
                ids = tok.encode(text, add_special_tokens=False).ids
                cases.append({"format": fmt, "date": date, "messages": messages,
                              "add_generation_prompt": gen, "text": text, "ids": ids})
    write(FIXTURES / tokenizer_dir / "chat.json", {"reference": REFERENCE, "cases": cases})


# --- decoding ------------------------------------------------------------------------

def decode_fixture() -> None:
    tok = Tokenizer.from_file(str(FIXTURES / "llama3-tokenizer" / "tokenizer.json"))
    alphabet = byte_alphabet()
    byte_id = [tok.token_to_id(alphabet[b]) for b in range(256)]
    rng = random.Random(5)
    id_lists = [
        [byte_id[0xF0], byte_id[0x9F], byte_id[0x98], byte_id[0x80]],   # 😀 byte by byte
        [byte_id[0xF0], byte_id[0x9F], byte_id[0x98]],                  # cut short
        [byte_id[0xE6], byte_id[0x97], 9906],                            # broken CJK, then text
        [byte_id[0x80], byte_id[0xBF], byte_id[0xC0], byte_id[0xC1]],   # never valid
        [byte_id[0xED], byte_id[0xA0], byte_id[0x80]],                  # a surrogate's bytes
        [byte_id[0xF4], byte_id[0x90], byte_id[0x80], byte_id[0x80]],   # above U+10FFFF
        [byte_id[0xE0], byte_id[0x80], byte_id[0x80]],                  # overlong
        [byte_id[0xC3], 128000, byte_id[0xA9]],                         # special token inside a character
        [128000, 9906, 128009, 128001],
        [],
    ]
    for _ in range(300):
        id_lists.append([rng.choice(byte_id[0x80:]) for _ in range(rng.randrange(1, 8))])
    for _ in range(100):
        id_lists.append([rng.randrange(tok.get_vocab_size(with_added_tokens=True)) for _ in range(rng.randrange(1, 12))])
    cases = []
    for ids in id_lists:
        for skip in (False, True):
            cases.append({"ids": ids, "skip_special_tokens": skip, "text": tok.decode(ids, skip_special_tokens=skip)})
    write(FIXTURES / "llama3-tokenizer" / "decode.json", {"reference": REFERENCE, "cases": cases})


def pretokenize_fixture() -> None:
    split = pre_tokenizers.Split(Regex(LLAMA3_SPLIT), "isolated")
    rng = random.Random(9)
    texts = FIXED_TEXTS + [textgen.random_text(rng) for _ in range(200)]
    cases = [{"text": t, "pieces": [p for p, _ in split.pre_tokenize_str(t)]} for t in texts]
    write(FIXTURES / "llama3-tokenizer" / "pretokenize.json", {"reference": REFERENCE, "cases": cases})


def special_as_text_fixture() -> None:
    tok = Tokenizer.from_file(str(FIXTURES / "llama3-tokenizer" / "tokenizer.json"))
    tok.encode_special_tokens = True
    texts = ["<|begin_of_text|>hi<|eot_id|>", "x <|eot_id|> y", "<|start_header_id|>user<|end_header_id|>",
             "plain text", "<|eot"]
    cases = [{"text": t, "ids": tok.encode(t, add_special_tokens=True).ids} for t in texts]
    write(FIXTURES / "llama3-tokenizer" / "special-as-text.json", {"reference": REFERENCE, "cases": cases})


def scalar_classes_fixture() -> None:
    """Probes each code point with strings whose split reveals its class."""
    split = pre_tokenizers.Split(Regex(LLAMA3_SPLIT), "isolated")

    def pieces(text):
        return [p for p, _ in split.pre_tokenize_str(text)]

    def classify(c: str) -> int:
        if c in "\r\n":
            return 4
        if len(pieces("a" + c)) == 1:
            return 1  # letter: continues the letter run
        if len(pieces("1" + c)) == 1:
            return 2  # number: continues the digit run
        p = pieces("x" + c + c + "y")
        if p == ["x", c, c + "y"]:
            return 3  # whitespace: \s+(?!\S) leaves one for " ?\p{L}+"
        if p == ["x", c + c, "y"]:
            return 0
        raise SystemExit(f"cannot classify U+{ord(c):04X}: {p}")

    runs, previous = [], None
    for v in range(0x110000):
        k = 0 if 0xD800 <= v < 0xE000 else classify(chr(v))
        if k != previous:
            runs.append([v, k])
            previous = k
    write(FIXTURES / "llama3-tokenizer" / "scalar-classes.json",
          {"reference": REFERENCE, "classes": "0 other, 1 letter, 2 number, 3 whitespace, 4 CR/LF",
           "runs": runs})


if __name__ == "__main__":
    tiny_expected()
    synthetic_fixtures()
    chat_fixture("llama3-tokenizer")
    chat_fixture("tiny-tokenizer")
    decode_fixture()
    pretokenize_fixture()
    special_as_text_fixture()
    scalar_classes_fixture()
