"""Random and real texts that stress a Llama 3 style tokenizer.

Random texts are built from pools aimed at the corners of the split pattern and of BPE:
whitespace runs of every Unicode kind before letters, digits and punctuation; case-mixed
contractions (including U+017F, which folds to 's'); letters of all scripts with combining
marks; digits of other scripts; emoji sequences; control characters; unassigned and
private-use code points; added-token text and fragments of it.
"""

import random
import sys
from pathlib import Path

WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\r\r\n", "\u00a0", "\u3000",
              "\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\u1680", "\u2000", "\u200a", "\u202f",
              "\u205f", " \n ", "\n\n\n", "   \n", " \t\n", "\n ", "\u00a0\u00a0", " \u00a0", "\u200b"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M", "'ll",
                "'LL", "'lL", "'d", "'D", "'\u017f", "'\u017ft", "'x", "'", "''s", "'sa", "'lla",
                "'r", "'v", "'l", "'\u212a", "'\u00df", "\u2019s", "'\u0130"]
WORDS = ["hello", "World", "the", "I", "a", "don", "can", "HAMburger", "tokenizer", "naïve", "café",
         "Straße", "ΑΒΓ", "αβγ", "привет", "Москва", "שלום", "مرحبا", "नमस्ते", "क्षि", "กำลัง",
         "안녕하세요", "日本語", "中文", "ひらがな", "カタカナ", "ǅemal", "ʰa", "ª", "º", "ﬁne", "K", "Å",
         "ᏣᎳᎩ", "ግዕዝ", "Ⴀა", "Հայ", "𝔘𝔫𝔦", "𐌰𐌱", "ᚠᚢ", "e\u0301", "a\u0308\u0323", "x\u20dd"]
DIGITS = ["0", "7", "12", "123", "1234", "12345678901", "٣٤٥", "१२३", "１２３", "²", "½", "Ⅻ", "①",
          "3.14", "1,000", "10⁻³", "𝟘𝟙", "𐒠"]
PUNCT = list("!?.,;:-()[]{}<>/\\|@#$%^&*_+=~`\"'") + ["…", "«»", "“”", "—", "–", "€", "©", "™",
                                                       "->", "=>", "...", "!!!", "?!", "::", "//",
                                                       "/*", "*/", "#!", "\u0301", "\u200d", "\ufeff"]
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇯🇵", "❤️", "🏳️\u200d🌈", "🤖", "🍔", "✨", "🫠", "🧑🏿\u200d💻"]
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
           "<|end_header_id|>", "<|reserved_special_token_5|>", "<|eot", "<|", "|>", "<|eot_id|",
           "< |eot_id|>", "<|begin_of_text|><|eot_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"]


def random_scalar(rng: random.Random) -> str:
    """Any code point but a surrogate: assigned or not, control, private use."""
    while True:
        r = rng.random()
        if r < 0.3:
            v = rng.randrange(0, 0x80)
        elif r < 0.6:
            v = rng.randrange(0x80, 0x3000)
        elif r < 0.8:
            v = rng.randrange(0x3000, 0x10000)
        elif r < 0.93:
            v = rng.randrange(0x10000, 0x20000)
        else:
            v = rng.randrange(0x20000, 0x110000)
        if not 0xD800 <= v < 0xE000:
            return chr(v)


def random_piece(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.18:
        return rng.choice(WHITESPACE)
    if r < 0.35:
        w = rng.choice(WORDS)
        return rng.choice([w, w.upper(), w.lower(), w.title()])
    if r < 0.45:
        return rng.choice(CONTRACTIONS)
    if r < 0.53:
        return rng.choice(DIGITS)
    if r < 0.63:
        return rng.choice(PUNCT)
    if r < 0.68:
        return rng.choice(EMOJI)
    if r < 0.72:
        return rng.choice(SPECIAL)
    if r < 0.80:
        return chr(rng.choice([rng.randrange(0x4E00, 0xA000), rng.randrange(0x3040, 0x3100),
                               rng.randrange(0xAC00, 0xD7A4), rng.randrange(0x20000, 0x2A6E0)]))
    if r < 0.88:
        return "".join(random_scalar(rng) for _ in range(rng.randrange(1, 4)))
    return "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(1, 8)))


def random_text(rng: random.Random, max_pieces: int = 30) -> str:
    return "".join(random_piece(rng) for _ in range(rng.randrange(0, max_pieces + 1)))


def slices(text: str, rng: random.Random, count: int, max_len: int) -> list[str]:
    if not text:
        return []
    out = []
    for _ in range(count):
        start = rng.randrange(0, len(text))
        out.append(text[start:start + rng.randrange(1, max_len)])
    return out


def source_code_text() -> str:
    """Python's standard library sources (every machine with Python has them)."""
    lib = Path(sys.modules["random"].__file__).parent
    parts = []
    for p in sorted(lib.glob("*.py"))[:200]:
        try:
            parts.append(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return "".join(parts)


def long_texts(rng: random.Random) -> list[str]:
    """Single huge pre-tokens and long runs, which take the BPE's heap path."""
    b64 = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                  for _ in range(20000))
    return ["a" * 5000, " " * 3000 + "x", "\n" * 500, "\t \n" * 300, b64, "9" * 4000,
            "!" * 3000, "é" * 2000, "😀" * 500, "ab" * 3000, " " * 2000, "'s" * 1000,
            "<|eot_id|>" * 200, "\u00a0" * 700 + "y", "\u3000 " * 400]
