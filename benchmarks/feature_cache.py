"""Feature cache at scale: xstilts ``FeatureCache`` vs. Hugging Face ``datasets`` on the same pairs.

    python benchmarks/feature_cache.py [--pairs 400000] [--repeats 3] [--json FILE]

Data: ``syn_nli`` sentence pairs (classification format) of the synthetic world, in shards of at
most 50k pairs (shard k: ``xstilts world --seed k --size tiny`` with ``sizes`` set to its pairs,
the ``demo``/``large`` premises of 2-30 facts, no translations), generated once under
``$XSTILTS_BENCH_CACHE`` (default /tmp/xstilts-bench): one 400k world in one process would hold
~7 GB of Python objects. Tokenizer: the shared mini encoder's (XLM-R vocabulary), max_length 128.

Each step runs in a fresh subprocess, both sides reading the pairs with the same reader
(``load_examples``, untimed):

* xstilts — build: ``FeatureCache.get(parts, build)`` with ``Run.features``' key parts and its
  chunked ``classification.featurize``; reload: ``FeatureCache.get`` of the existing entry;
* HF — build: ``Dataset.from_dict`` + ``.map(tokenizer(a, b, truncation=True, max_length=128),
  batched=True)`` (text columns removed: the entry holds what xstilts' holds) + ``save_to_disk``;
  reload: ``load_from_disk``.

Build rate = pairs / (featurize + write the entry). Reload = open the entry until one random
batch of 16 rows (``input_ids``, ``attention_mask``, ``labels``) is collated by
``xstilts.formats.base.collate`` (the same on both sides); the library's import and the whole
child process (interpreter start to exit) are reported apart. Peak RSS is the child's own
``VmHWM``; the build's includes the imports (torch, transformers: ~0.6 GB) and the pairs in
memory, so "over inputs" also gives the peak less the RSS before the timed part. "mapped": the
reloaded columns are memory maps (``np.memmap`` / datasets' ``MemoryMappedTable``); the reload's
RSS grows by the file pages its batch touched (the kernel maps whole page-cache folios, up to MBs
each: shared and reclaimable), its private memory ("private growth") by a few MB at any size.
Reps alternate the sides (order swapped every rep); the table shows medians and the ratio
xstilts / HF (min/median/max). Targets: reload < 2 s, peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARD = 50_000
MAX_LENGTH = 128
BATCH = 16
COLUMNS = ("input_ids", "attention_mask", "labels")
RELOAD_TARGET_S = 2.0
RSS_TARGET_MB = 1536.0


# ------------------------------------------------------------------ children (fresh processes)


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(f"/proc/self/status: no field {field}")


def _peak_mb() -> float:
    """This process's peak RSS. ``VmHWM``, not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries
    ``ru_maxrss`` over from the parent through fork + exec, so a child would report its parent's
    peak (the benchmark's parent holds transformers) whenever that is higher than its own."""
    return _status_mb("VmHWM")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _anon_mb() -> float:
    """Private memory only: pages of a memory-mapped file that a read touches count in RSS
    (``RssFile``, shared with the page cache, dropped first under pressure), not here."""
    return _status_mb("RssAnon")


def _examples(shards: list[str]) -> list:
    from xstilts.data.loading import load_examples

    return [ex for d in shards for ex in load_examples("syn_nli", "train", "en", data_dir=d)]


def _parts(task, examples, tokenizer) -> dict:
    """The key parts ``Run.features`` builds for a classification task at max_length 128."""
    import hashlib

    from xstilts.data.cache import tokenizer_fingerprint
    from xstilts.formats import FEATURIZATION_VERSION

    return {"task": task.name, "task_version": task.version, "format": task.format,
            "format_version": FEATURIZATION_VERSION, "split": "train", "language": "en",
            "tokenizer": tokenizer_fingerprint(tokenizer),
            "examples": hashlib.sha256(repr(examples).encode()).hexdigest()[:16], "max_length": MAX_LENGTH}


def child_build_xstilts(spec: dict) -> dict:
    from transformers import AutoTokenizer

    from xstilts.data.cache import FeatureCache
    from xstilts.formats import classification
    from xstilts.formats.base import Features
    from xstilts.pipeline.run import FEATURIZE_CHUNK
    from xstilts.tasks import get_task

    task = get_task("syn_nli")
    tok = AutoTokenizer.from_pretrained(spec["tokenizer"])
    examples = _examples(spec["shards"])
    parts = _parts(task, examples, tok)
    rss0 = _rss_mb()

    def build() -> Features:
        # As Run.features: featurize by chunks. Besides showing progress there, chunks bound the
        # untruncated tokenizer output held at once (~0.5 GB per 20k of these pairs in one call).
        chunks = [examples[i:i + FEATURIZE_CHUNK] for i in range(0, len(examples), FEATURIZE_CHUNK)]
        feats = [classification.featurize(c, tok, max_length=MAX_LENGTH, label_list=task.labels) for c in chunks]
        return Features.concat(feats, [len(c) for c in chunks])

    start = time.perf_counter()
    cache = FeatureCache(spec["root"])
    features = cache.get(parts, build)
    seconds = time.perf_counter() - start
    assert cache.misses == 1 and len(features) == len(examples)
    return {"seconds": seconds, "pairs": len(examples), "peak_mb": _peak_mb(), "rss_before_mb": rss0,
            "parts": parts, "entry": str(cache.path(parts))}


def child_build_hf(spec: dict) -> dict:
    import datasets
    from transformers import AutoTokenizer

    from xstilts.tasks import get_task

    datasets.disable_progress_bars()
    labels = get_task("syn_nli").labels
    tok = AutoTokenizer.from_pretrained(spec["tokenizer"])
    examples = _examples(spec["shards"])
    columns = {"premise": [e.text_a for e in examples], "hypothesis": [e.text_b for e in examples],
               "label": [labels.index(e.label) for e in examples]}
    n = len(examples)
    del examples
    rss0 = _rss_mb()

    start = time.perf_counter()
    ds = datasets.Dataset.from_dict(columns)
    ds = ds.map(lambda b: tok(b["premise"], b["hypothesis"], truncation=True, max_length=MAX_LENGTH),
                batched=True, remove_columns=["premise", "hypothesis"])
    ds.save_to_disk(spec["root"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": n, "peak_mb": _peak_mb(), "rss_before_mb": rss0, "entry": spec["root"]}


def child_reload(spec: dict) -> dict:
    """Open the entry, select 16 random rows and collate them; ``import`` timed apart."""
    import numpy as np
    import numpy.random  # noqa: F401  (numpy 2 imports it lazily: ~20 ms, and `datasets` imports it)

    from xstilts.formats.base import collate  # shared by both sides: not part of either's cost

    t0 = time.perf_counter()
    if spec["side"] == "xstilts":
        from xstilts.data.cache import FeatureCache, RaggedColumn
    else:
        import datasets
        from datasets.table import MemoryMappedTable
    import_s = time.perf_counter() - t0
    rss1, anon1 = _rss_mb(), _anon_mb()
    t1 = time.perf_counter()
    if spec["side"] == "xstilts":
        cache = FeatureCache(spec["root"])

        def missing():
            raise RuntimeError(f"no cache entry for {spec['parts']} under {spec['root']}")

        features = cache.get(spec["parts"], missing)
        idx = np.random.default_rng(spec["seed"]).choice(len(features), BATCH, replace=False)
        sub = features.select(idx)
        rows = [{c: sub[c][i] for c in COLUMNS} for i in range(BATCH)]
        cols = [features[c] for c in COLUMNS]
        mapped = all(isinstance(c.values if isinstance(c, RaggedColumn) else c, np.memmap) for c in cols)
        # Slices of the memory map are views of the file, not copies.
        mapped = mapped and all(isinstance(r["input_ids"], np.memmap) for r in rows)
    else:
        ds = datasets.load_from_disk(spec["root"])
        idx = np.random.default_rng(spec["seed"]).choice(len(ds), BATCH, replace=False)
        got = ds[idx.tolist()]
        # HF keeps the column name "label" (its Trainer's collator renames it to "labels").
        rows = [{c: np.asarray(got["label" if c == "labels" else c][i]) for c in COLUMNS} for i in range(BATCH)]
        mapped = isinstance(ds.data, MemoryMappedTable)
    batch = collate(rows, pad_token_id=spec["pad_id"])
    t2 = time.perf_counter()
    assert batch["input_ids"].shape[0] == BATCH
    return {"import_s": import_s, "open_s": t2 - t1, "peak_mb": _peak_mb(), "growth_mb": _rss_mb() - rss1,
            "anon_growth_mb": _anon_mb() - anon1, "mapped": bool(mapped)}


CHILDREN = {"build-xstilts": child_build_xstilts, "build-hf": child_build_hf, "reload": child_reload}


def _child(kind: str, spec: dict) -> dict:
    """Run ``kind`` in a fresh interpreter; its result is the last stdout line (JSON)."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(Path(spec["work"]) / "hf-cache")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(spec)],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"child {kind} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_s": wall}


# ------------------------------------------------------------------ parent


def _bench_cache() -> Path:
    return Path(os.environ.get("XSTILTS_BENCH_CACHE", "/tmp/xstilts-bench"))


def world_shards(pairs: int, cache: Path) -> list[Path]:
    """Synthetic-world folders holding ``pairs`` syn_nli train pairs in all, generated once (by
    ``xstilts world`` in subprocesses, several at a time: one 50k shard takes ~35 s and ~1 GB)."""
    from concurrent.futures import ThreadPoolExecutor

    shards, todo = [], []
    for k, start in enumerate(range(0, pairs, SHARD)):
        n = min(SHARD, pairs - start)
        d = cache / "feature_cache" / f"world-s{k}-{n}"
        shards.append(d)
        if not (d / "manifest.json").exists():
            todo.append([sys.executable, "-m", "xstilts", "world", "--out", str(d), "--seed", str(k), "--size", "tiny",
                         "--set", "sizes=" + json.dumps({"syn_nli": {"train": n, "dev": 20}}),
                         "--set", "nli_premise_facts=[2,30]", "--set", "translations=false"])

    def generate(cmd: list[str]) -> None:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        print(f"  generated {cmd[5]} in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    with ThreadPoolExecutor(max(1, min(4, (os.cpu_count() or 2) // 2))) as pool:
        list(pool.map(generate, todo))
    return shards


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def measure(pairs: int, repeats: int, work: Path | None = None) -> list[dict]:
    sys.path.insert(0, str(HERE))
    from _common import build_mini_encoder, ratio_summary
    from transformers import AutoTokenizer

    cache = _bench_cache()
    tokenizer = build_mini_encoder(cache)
    pad_id = AutoTokenizer.from_pretrained(str(tokenizer)).pad_token_id
    shards = [str(d) for d in world_shards(pairs, cache)]
    work = Path(work or cache / "feature_cache" / "work")
    results: dict[str, list[dict]] = {"xstilts": [], "hf": []}
    for rep in range(repeats):
        order = ("xstilts", "hf") if rep % 2 == 0 else ("hf", "xstilts")
        for side in order:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            spec = {"tokenizer": str(tokenizer), "shards": shards, "work": str(work), "root": str(work / side)}
            built = _child(f"build-{side}", spec)
            size_mb = _dir_mb(work / side)
            reload = _child("reload", {**spec, "side": side, "parts": built.get("parts"), "pad_id": pad_id,
                                       "seed": rep})
            results[side].append({"build": built, "reload": reload, "size_mb": size_mb})
            print(f"  rep {rep + 1}/{repeats} {side:<7}: build {built['pairs'] / built['seconds']:,.0f} pairs/s, "
                  f"peak {built['peak_mb']:,.0f} MB; reload {reload['open_s']:.3f} s "
                  f"(+import {reload['import_s']:.2f} s), peak {reload['peak_mb']:,.0f} MB, "
                  f"mapped {reload['mapped']}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)

    metrics = [  # case, unit, value of one rep, target (None: none)
        ("build rate", "pairs/s", lambda r: r["build"]["pairs"] / r["build"]["seconds"], None),
        ("build peak RSS", "MB", lambda r: r["build"]["peak_mb"], RSS_TARGET_MB),
        ("build RSS over inputs", "MB", lambda r: r["build"]["peak_mb"] - r["build"]["rss_before_mb"], None),
        ("entry size on disk", "MB", lambda r: r["size_mb"], None),
        ("reload: open + batch", "s", lambda r: r["reload"]["open_s"], RELOAD_TARGET_S),
        ("reload: library import", "s", lambda r: r["reload"]["import_s"], None),
        ("reload: whole process", "s", lambda r: r["reload"]["process_s"], None),
        ("reload peak RSS", "MB", lambda r: r["reload"]["peak_mb"], RSS_TARGET_MB),
        ("reload RSS growth", "MB", lambda r: r["reload"]["growth_mb"], None),
        ("reload private growth", "MB", lambda r: r["reload"]["anon_growth_mb"], None),
    ]
    rows = []
    for case, unit, value, target in metrics:
        ours = [value(r) for r in results["xstilts"]]
        theirs = [value(r) for r in results["hf"]]
        row = {"benchmark": "feature_cache", "case": case, "unit": unit, "pairs": pairs, "repeats": repeats,
               "xstilts": statistics.median(ours), "hf_datasets": statistics.median(theirs),
               **ratio_summary(ours, theirs)}
        if target is not None:
            row["target"] = target
            row["xstilts_meets_target"] = row["xstilts"] < target
        if case.startswith("reload: open"):
            row["xstilts_mapped"] = all(r["reload"]["mapped"] for r in results["xstilts"])
            row["hf_mapped"] = all(r["reload"]["mapped"] for r in results["hf"])
        rows.append(row)
    return rows


def run(quick: bool = False) -> list[dict]:
    """Result rows; ``quick``: 20k pairs, one repetition (CI smoke test)."""
    return measure(20_000, 1) if quick else measure(400_000, 3)


def print_table(rows: list[dict]) -> None:
    print(f"feature cache, {rows[0]['pairs']:,} syn_nli pairs, max_length {MAX_LENGTH}, "
          f"medians of {rows[0]['repeats']} (ratio = xstilts / HF datasets)")
    print(f"{'case':<24} {'unit':<8} {'xstilts':>10} {'HF datasets':>12} {'ratio min/med/max':>20} {'target':>8}")
    for r in rows:
        ratio = f"{r['ratio_min']:.2f}/{r['ratio_median']:.2f}/{r['ratio_max']:.2f}"
        target = f"<{r['target']:g}" + (" ok" if r["xstilts_meets_target"] else " MISS") if "target" in r else ""
        fmt = ",.0f" if r["unit"] != "s" else ".3f"
        print(f"{r['case']:<24} {r['unit']:<8} {r['xstilts']:>10{fmt}} {r['hf_datasets']:>12{fmt}} {ratio:>20} {target:>8}")
    mapped = next(r for r in rows if "xstilts_mapped" in r)
    print(f"memory-mapped after reload: xstilts {mapped['xstilts_mapped']}, HF datasets {mapped['hf_mapped']}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", default=None, help="scratch folder for the entries (default: under the bench cache)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = measure(args.pairs, args.repeats, Path(args.work) if args.work else None)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
