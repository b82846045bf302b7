"""Does the tiny MLM align the synthetic languages' words? Word translation accuracy per word class.

    python benchmarks/alignment.py [--out DIR] [--world-set KEY=VALUE ...]

Pretrains the demo encoder (configs/demo_world.yaml's first phase) on the demo world, then for
every lexeme that is not spelled alike in all languages (anchors and borrowed words are excluded)
averages its contextual vector over the dev corpus of each language, per hidden layer, and
retrieves the English word nearest (cosine, each language's vectors centred) to each word of
xa / xb / xc. Printed: precision@1 per language, encoder (pretrained vs. the same shape at random
init) and word class, at the layer best on average, plus chance. Zero-shot transfer of a task
can only use what this shows is aligned: function words and verbs align, professions, colours,
gifts and owned things — exchangeable values of one slot — barely do (docs/world.md). Then
syn_tatoeba accuracy per hidden layer for both encoders, as scored and with each language's
sentence vectors centred (the gap is the per-language offset), and its errors split: does the
retrieved sentence carry the right anchors, and among those, is it the right minimal variant.
"""

from __future__ import annotations

import argparse
import collections
import csv
import tempfile
from pathlib import Path

import numpy as np

from _common import CONFIGS, ensure_world

LANGS = ("xa", "xb", "xc")


def word_vectors(model, tokenizer, lines: list[str], words: set[str]) -> dict[str, np.ndarray]:
    """``word → (layers, hidden)`` mean contextual vector (subwords averaged) over ``lines``."""
    import torch

    sums: dict[str, np.ndarray] = {}
    counts: collections.Counter = collections.Counter()
    model.eval()
    for start in range(0, len(lines), 64):
        batch = [line.split() for line in lines[start:start + 64]]
        enc = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=64, padding=True,
                        return_tensors="pt")
        with torch.no_grad():
            hidden = torch.stack(model(**enc, output_hidden_states=True).hidden_states, 1).numpy()
        for b, tokens in enumerate(batch):
            positions = collections.defaultdict(list)
            for t, k in enumerate(enc.word_ids(b)):
                if k is not None:
                    positions[k].append(t)
            for k, ts in positions.items():
                w = tokens[k]
                if w in words:
                    sums[w] = sums.get(w, 0) + hidden[b][:, ts].mean(1)
                    counts[w] += 1
    return {w: sums[w] / counts[w] for w in sums}


def translation_hits(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """Row i of ``src`` retrieves row i of ``tgt``? (cosine after centring each side)."""
    a, b = src - src.mean(0), tgt - tgt.mean(0)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return (a @ b.T).argmax(1) == np.arange(len(a))


def evaluate(model, tokenizer, world: Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """Per language: hits per layer (``layers × pairs``) and the class of each pair."""
    rows = list(csv.DictReader(open(world / "lexicon.tsv", encoding="utf-8"), delimiter="\t"))
    rows = [r for r in rows if r["shared"] != "yes" and r["class"] not in ("punct", "particle")]

    def lines(lang: str) -> list[str]:
        text = (world / f"corpora/dev.{lang}.txt").read_text(encoding="utf-8")
        return [s for doc in text.splitlines() for s in doc.split(" . ")][:3000]

    english = word_vectors(model, tokenizer, lines("en"), {r["en"] for r in rows})
    out = {}
    for lang in LANGS:
        other = word_vectors(model, tokenizer, lines(lang), {r[lang] for r in rows})
        pairs = [r for r in rows if r["en"] in english and r[lang] in other]
        src = np.stack([other[r[lang]] for r in pairs])   # pairs × layers × hidden
        tgt = np.stack([english[r["en"]] for r in pairs])
        hits = np.stack([translation_hits(src[:, k], tgt[:, k]) for k in range(src.shape[1])])
        out[lang] = {"hits": hits, "classes": [r["class"] for r in pairs]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--world-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a world knob as xstilts world --set takes it, e.g. city_concentration=0.1")
    args = parser.parse_args()
    import torch
    import yaml
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from xstilts.cli import _world_overrides
    from xstilts.config import load_config
    from xstilts.pipeline.runner import run_experiment

    out = Path(args.out or tempfile.mkdtemp(prefix="xstilts-alignment-"))
    world = out / "world"
    ensure_world(world, overrides=_world_overrides(args.world_set))
    raw = yaml.safe_load((CONFIGS / "demo_world.yaml").read_text())
    raw.update(name="alignment", data_dir=str(world))
    raw["phases"] = [raw["phases"][0], {"kind": "retrieval_eval", "tasks": ["syn_tatoeba"]}]
    run_dir = run_experiment(load_config(raw=raw), out, progress=False)
    model_dir = out / next(run_dir.glob("*-pretrained.txt")).read_text().strip() / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    torch.manual_seed(0)
    encoders = {"pretrained": AutoModel.from_pretrained(model_dir),
                "control": AutoModel.from_config(AutoConfig.from_pretrained(model_dir))}
    print(f"{'lang':<5} {'encoder':<11} {'layer':>5} {'all':>6}  per class (hits/words)   chance")
    for name, model in encoders.items():
        result = evaluate(model, tokenizer, world)
        layer = int(np.argmax(np.mean([r["hits"].mean(1) for r in result.values()], axis=0)))
        for lang, r in result.items():
            hits, classes = r["hits"][layer], np.array(r["classes"])
            per = " ".join(f"{c}:{int(hits[classes == c].sum())}/{int((classes == c).sum())}"
                           for c in sorted(set(classes)))
            print(f"{lang:<5} {name:<11} {layer:>5} {100 * hits.mean():6.1f}  {per}   {100 / len(hits):.1f}")
    results = {name: retrieval_by_layer(model, tokenizer, world) for name, model in encoders.items()}
    for title, keys in (("as XTREME scores it (cosine) / with each language's sentence vectors centred (not "
                         "XTREME's protocol: shows the per-language offset)", ("scored", "centred")),
                        ("the retrieved sentence has the right anchors (names, numbers, cities) / accuracy "
                         "among those (telling minimal variants apart)", ("anchors", "within"))):
        print(f"\nsyn_tatoeba per hidden layer (0 = embeddings), {title}")
        for name, per_lang in results.items():
            for lang, per_layer in per_lang.items():
                cells = " ".join(f"{r[keys[0]]:5.1f}/{r[keys[1]]:5.1f}" for r in per_layer)
                print(f"{lang:<5} {name:<11} {cells}")


def retrieval_by_layer(model, tokenizer, world: Path) -> dict[str, list[dict[str, float]]]:
    """Per language and layer: syn_tatoeba accuracy as scored (``scored``) and with each language's
    vectors centred (``centred``), and the scored errors split in two: ``anchors`` — the share of
    English queries whose retrieved sentence has the same shared spellings (names, numbers, cities)
    as the right one; ``within`` — the accuracy among those, i.e. telling minimal variants apart."""
    from xstilts.formats.retrieval import embed, tatoeba_predict

    out = {}
    for lang in LANGS:
        folder = world / "xtreme/download/syn_tatoeba"
        source = (folder / f"{lang}-en.{lang}").read_text(encoding="utf-8").splitlines()
        target = (folder / f"{lang}-en.en").read_text(encoding="utf-8").splitlines()
        # Gold line i: the English line of source line i. As the pipeline scores it: for each English
        # sentence, the nearest source sentence.
        english_of = np.loadtxt(world / f"xtreme/labels/syn_tatoeba/test-{lang}.tsv", dtype=int)
        gold = np.argsort(english_of)
        anchors = [frozenset(set(target[i].split()) & set(source[j].split()) - {".", "?"})
                   for i, j in enumerate(gold)]
        scores = []
        for layer in range(model.config.num_hidden_layers + 1):
            a, b = (embed(model, tokenizer, s, layer=layer, pooling="mean", max_length=64, batch_size=64)
                    for s in (source, target))
            pred = tatoeba_predict(a, b)
            same = np.array([anchors[english_of[p]] == anchors[i] for i, p in enumerate(pred)])
            hits = pred == gold
            scores.append({"scored": 100 * hits.mean(),
                           "centred": 100 * np.mean(tatoeba_predict(a - a.mean(0), b - b.mean(0)) == gold),
                           "anchors": 100 * same.mean(), "within": 100 * hits.sum() / max(1, same.sum())})
        out[lang] = scores
    return out


if __name__ == "__main__":
    main()
