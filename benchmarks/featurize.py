"""Featurization throughput: xstilts formats vs. the plain Hugging Face tokenizer call they replace.

    python benchmarks/featurize.py [--data-dir DIR] [--tokenizer DIR] [--repeats 3]

Measures examples/s (best of ``--repeats``) on real data with the shared mini multilingual encoder's
tokenizer (XLM-R vocabulary; built into a temp cache if ``--tokenizer`` is not given):

* XQuAD-en test at max_length 384 / doc_stride 128 (span_qa) — peer: HF ``run_qa``'s
  ``prepare_validation_features`` recipe (one tokenizer call with overflowing windows and offsets);
* XNLI-de test at max_length 128 (classification) — peer: ``tokenizer(a, b, truncation=True)``.

The peers do less (no untruncated lengths, no training labels, no per-window bookkeeping); the
ratio says what that costs. Prints one table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import best_time
from transformers import AutoTokenizer

from xstilts.data.loading import load_examples
from xstilts.formats import classification, span_qa
from xstilts.tasks import get_task

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"


def mini_tokenizer_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    out = Path(os.environ.get("XSTILTS_TEST_CACHE", Path(tempfile.gettempdir()) / "xstilts-test-cache")) / "mini-e5"
    if not (out / "tokenizer.json").exists():
        tools = Path(os.environ.get("XSTILTS_TOOLS_DIR", SHARED / "tools"))
        subprocess.run([sys.executable, str(tools / "build_mini_multilingual_encoder.py"), str(out)], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("XSTILTS_DATA_DIR", SHARED / "data"))
    parser.add_argument("--tokenizer", default=None, help="HF tokenizer directory (default: the mini encoder)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tok = AutoTokenizer.from_pretrained(str(mini_tokenizer_dir(args.tokenizer)))
    rows = []

    xquad = get_task("xquad")
    qa = load_examples(xquad, "test", "en", data_dir=args.data_dir)
    ours = best_time(lambda: span_qa.featurize(qa, tok, max_length=384, doc_stride=128, max_query_length=64), args.repeats)

    def hf_qa():
        enc = tok([e.question.lstrip() for e in qa], [e.context for e in qa], truncation="only_second",
                  max_length=384, stride=128, return_overflowing_tokens=True, return_offsets_mapping=True)
        for i in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(i)
            enc["offset_mapping"][i] = [o if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]

    peer = best_time(hf_qa, args.repeats)
    rows.append(("XQuAD-en test", "span_qa 384/128", len(qa), len(qa) / ours, len(qa) / peer))

    xnli = get_task("xnli")
    nli = load_examples(xnli, "test", "de", data_dir=args.data_dir)
    ours = best_time(lambda: classification.featurize(nli, tok, max_length=128, label_list=xnli.labels), args.repeats)
    peer = best_time(lambda: tok([e.text_a for e in nli], [e.text_b for e in nli], truncation=True, max_length=128), args.repeats)
    rows.append(("XNLI-de test", "classification 128", len(nli), len(nli) / ours, len(nli) / peer))

    print(f"{'data':<15} {'setting':<20} {'examples':>8} {'xstilts ex/s':>13} {'HF call ex/s':>13} {'ratio':>6}")
    for data, setting, n, a, b in rows:
        print(f"{data:<15} {setting:<20} {n:>8} {a:>13,.0f} {b:>13,.0f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
