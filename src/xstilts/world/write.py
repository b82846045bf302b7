"""Writing the world in the real layouts, so the real readers read it unchanged.

Every path comes from the task's declaration in :mod:`xstilts.tasks.catalog` (its file and
gold-file templates), so the files and the registry cannot drift apart. Formats, byte for byte
where the original tools define them:

* ANLI jsonl (``uid, context, hypothesis, label e/n/c, reason``), HellaSwag jsonl, SQuAD v1.1
  JSON, C&C ``.stagged`` (with its ``# `` provenance header); their translations into the other
  languages (the same items rendered in each, same ids and labels) in the same schema, where
  translate-train reads them: ``<folder>/translated/<name>.<lang>.<ext>``
  (:func:`xstilts.data.loading.translated_files`);
* XTREME ``download/``: pair TSVs written by ``csv.writer(delimiter='\\t')`` (CRLF line ends, as
  XTREME's ``xnli_preprocess``), ``token<TAB>tag`` files with a blank line between sentences, QA
  test files blanked exactly as ``remove_qa_test_annotations`` does (one paragraph per question,
  answers ``[{"answer_start": 0, "text": ""}]``), Tatoeba with the English side sorted;
* ``labels/<task>/test-<lang>.<ext>``: one label per line, tags with blank lines, the original
  SQuAD JSON, and for Tatoeba, per sorted English line, the index of its source sentence (evaluate.py's layout);
* ``corpora/{train,dev}.<lang>.txt``: one document per line;
* ``meta/<task>/<split>-<lang>.jsonl``: per example facts a researcher may bucket by (QA document
  length and evidence position, NLI construction, story relation) — not read by any reader;
* ``lexicon.tsv`` (the ground-truth word alignment) and ``manifest.json``.

The folder is written beside its destination and renamed into place (atomic).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from xstilts.data.loading import is_translated, translated_files
from xstilts.errors import ConfigError
from xstilts.tasks import get_task
from xstilts.world.languages import CODES, LANGUAGES, PUNCT
from xstilts.world.render import Sentence, render
from xstilts.world.tasks import PairItem, QADoc, StoryItem

ANLI_CODES = {"entailment": "e", "neutral": "n", "contradiction": "c"}
LENGTH_BUCKETS = (64, 128, 256, 512, 1024)
MANIFEST = "manifest.json"


class Writer:
    """Writes files under ``root`` and keeps the counts and length statistics for the manifest."""

    def __init__(self, root: Path, world, header: str):
        self.root = root
        self.world = world
        self.lexicon = world.context.lexicon
        self.header = header
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.lengths: dict[str, dict[str, dict[str, dict]]] = {}

    # ------------------------------------------------------------------ plumbing

    def path(self, task: str, split: str, lang: str, gold: bool = False) -> Path:
        t = get_task(task)
        if not gold and is_translated(t, split, lang):  # an English-only split in another language
            return self.root / translated_files(t, split, lang)[0]
        template = t.gold_files[split] if gold else t.files[split][0]
        return self.root / template.format(language=lang)

    def text(self, path: Path, content: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(content)

    def record(self, task: str, split: str, lang: str, n: int, lengths: Iterable[int], unit: str) -> None:
        self.counts.setdefault(task, {}).setdefault(split, {})[lang] = n
        self.lengths.setdefault(task, {}).setdefault(split, {})[lang] = length_stats(list(lengths), unit)

    def meta(self, task: str, split: str, lang: str, rows: list[dict]) -> None:
        self.text(self.root / "meta" / task / f"{split}-{lang}.jsonl",
                  "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def render(self, sentences: list[Sentence] | Sentence, lang: str):
        return render(sentences, lang, self.lexicon)

    # ------------------------------------------------------------------ sentence pairs

    def anli(self, task: str, split: str, items: list[PairItem], langs: Iterable[str] = ("en",)) -> None:
        for lang in langs:
            lines, lengths, meta = [], [], []
            for item in items:
                premise, hyp = self.render(list(item.premise), lang), self.render(item.hypothesis, lang)
                lines.append(json.dumps({"uid": item.id, "context": premise.text, "hypothesis": hyp.text,
                                         "label": ANLI_CODES[item.label], "reason": item.construction}))
                lengths.append(len(premise.tokens) + len(hyp.tokens))
                meta.append({"id": item.id, "label": item.label, "construction": item.construction,
                             "premise_facts": len(item.premise)})
            self.text(self.path(task, split, lang), "".join(x + "\n" for x in lines))
            self.record(task, split, lang, len(items), lengths, "premise+hypothesis tokens")
            self.meta(task, split, lang, meta)

    def pair_tsv(self, task: str, split: str, items: list[PairItem], langs: Iterable[str]) -> None:
        for lang in langs:
            buf = io.StringIO(newline="")
            writer = csv.writer(buf, delimiter="\t")  # XTREME's xnli_preprocess: CRLF, quoting as needed
            lengths = []
            for item in items:
                premise, hyp = self.render(list(item.premise), lang), self.render(item.hypothesis, lang)
                writer.writerow([premise.text, hyp.text] + ([] if split == "test" else [item.label]))
                lengths.append(len(premise.tokens) + len(hyp.tokens))
            self.text(self.path(task, split, lang), buf.getvalue())
            if split == "test":
                self.text(self.path(task, split, lang, gold=True), "".join(f"{i.label}\n" for i in items))
            self.record(task, split, lang, len(items), lengths, "premise+hypothesis tokens")
            self.meta(task, split, lang, [{"id": i.id, "label": i.label, "construction": i.construction,
                                           "premise_facts": len(i.premise)} for i in items])

    # ------------------------------------------------------------------ stories

    def hellaswag(self, task: str, split: str, items: list[StoryItem], langs: Iterable[str] = ("en",)) -> None:
        for lang in langs:
            lines, lengths = [], []
            for ind, item in enumerate(items):
                ctx_a = self.render(list(item.context), lang)
                endings = [self.render(e, lang) for e in item.endings]
                subject = endings[item.label].tokens[0]
                if any(e.tokens[0] != subject for e in endings):  # pragma: no cover - builder invariant
                    raise AssertionError(f"{item.id}: endings do not share their subject ({lang})")
                texts = [" ".join(e.tokens[1:]) for e in endings]
                lines.append(json.dumps({
                    "ind": ind, "activity_label": "synthetic story", "ctx_a": ctx_a.text, "ctx_b": subject,
                    "ctx": f"{ctx_a.text} {subject}", "split": "val" if split == "dev" else split,
                    "split_type": "indomain", "label": item.label, "endings": texts, "source_id": item.id}))
                lengths.append(len(ctx_a.tokens) + 1 + max(len(e.tokens) - 1 for e in endings))
            self.text(self.path(task, split, lang), "".join(x + "\n" for x in lines))
            self.record(task, split, lang, len(items), lengths, "context+ending tokens")
            self.meta(task, split, lang, [{"id": i.id, "relation": i.relation, "label": i.label} for i in items])

    # ------------------------------------------------------------------ extractive QA

    def squad(self, task: str, split: str, docs: list[QADoc], langs: Iterable[str]) -> None:
        for lang in langs:
            data, blanked, meta, doc_lengths = [], [], [], []
            for doc in docs:
                text = self.render(list(doc.sentences), lang)
                doc_lengths.append(len(text.tokens))
                qas = []
                for q in doc.questions:
                    k = text.index_of(q.answer)
                    answer = {"answer_start": text.starts[k], "text": text.tokens[k]}
                    qas.append({"answers": [answer], "id": q.id, "question": self.render(q.sentence, lang).text})
                    meta.append({"id": q.id, "qtype": q.qtype, "answer": text.tokens[k], "doc_id": doc.id,
                                 "doc_tokens": len(text.tokens), "doc_sentences": len(doc.sentences),
                                 "evidence_sentence": q.evidence, "answer_token": k,
                                 "answer_char": text.starts[k],
                                 "relative_position": round(k / max(1, len(text.tokens) - 1), 4)})
                    # remove_qa_test_annotations: one paragraph per question, keys in its order.
                    blanked.append({"paragraphs": [{"context": text.text, "qas": [{
                        "answers": [{"answer_start": 0, "text": ""}], "question": qas[-1]["question"],
                        "id": q.id}]}]})
                data.append({"title": doc.id, "paragraphs": [{"context": text.text, "qas": qas}]})
            original = {"data": data, "version": "1.1"}
            if split == "test":
                self.text(self.path(task, split, lang), json.dumps({"data": blanked, "version": "1.1"}))
                self.text(self.path(task, split, lang, gold=True),
                          json.dumps(original, indent=2, sort_keys=True) + "\n")
            else:
                self.text(self.path(task, split, lang), json.dumps(original))
            self.record(task, split, lang, len(meta), doc_lengths, "document tokens (one per document)")
            self.lengths[task][split][lang]["documents"] = len(docs)
            self.meta(task, split, lang, meta)

    # ------------------------------------------------------------------ tagging

    def stagged(self, task: str, split: str, sentences: list[Sentence], langs: Iterable[str] = ("en",)) -> None:
        # In another language each word keeps its lexeme's English tags (projected word by word, as
        # translate-train projects labels): in xb/xc the categories' slashes no longer match the order.
        for lang in langs:
            lines = [f"# this file was generated by the following command(s):\n#   {self.header}\n\n"]
            lengths = []
            for s in sentences:
                r = self.render(s, lang)
                lines.append(" ".join(f"{t}|{w.ptb}|{w.ccg}" for t, w in zip(r.tokens, r.words)) + "\n")
                lengths.append(len(r.tokens))
            self.text(self.path(task, split, lang), "".join(lines))
            self.record(task, split, lang, len(sentences), lengths, "sentence tokens")

    def conll(self, task: str, split: str, sentences: list[Sentence], langs: Iterable[str]) -> None:
        for lang in langs:
            rendered = [self.render(s, lang) for s in sentences]
            if split == "test":
                data = ["".join(f"{t}\n" for t in r.tokens) for r in rendered]
                gold = ["".join(f"{w.upos}\n" for w in r.words) for r in rendered]
                self.text(self.path(task, split, lang, gold=True), "\n".join(gold))
            else:
                data = ["".join(f"{t}\t{w.upos}\n" for t, w in zip(r.tokens, r.words)) for r in rendered]
            # A blank line between sentences, none after the last (as XTREME's files).
            self.text(self.path(task, split, lang), "\n".join(data))
            self.record(task, split, lang, len(sentences), [len(r.tokens) for r in rendered], "sentence tokens")

    # ------------------------------------------------------------------ retrieval

    def tatoeba(self, task: str, split: str, sentences: list[Sentence], langs: Iterable[str]) -> None:
        english = [self.render(s, "en").text for s in sentences]
        order = sorted(range(len(english)), key=english.__getitem__)  # sorted line → source line
        for lang in langs:
            prefix = self.path(task, split, lang)
            source = [self.render(s, lang) for s in sentences]
            self.text(prefix.with_name(f"{prefix.name}.{lang}"), "".join(r.text + "\n" for r in source))
            self.text(prefix.with_name(f"{prefix.name}.en"), "".join(english[i] + "\n" for i in order))
            # evaluate.py's layout: per sorted English line, the index of its source sentence.
            self.text(self.path(task, split, lang, gold=True), "".join(f"{i}\n" for i in order))
            self.record(task, split, lang, len(sentences), [len(r.tokens) for r in source], "sentence tokens")

    # ------------------------------------------------------------------ corpora and lexicon

    def corpora(self, docs_by_lang: dict[str, dict[str, list]]) -> dict:
        summary: dict[str, dict] = {}
        for lang, splits in docs_by_lang.items():
            for split, docs in splits.items():
                rendered = [self.render(list(d.sentences), lang) for d in docs]
                path = self.root / get_task("syn_mlm").files[split][0].format(language=lang)
                self.text(path, "".join(r.text + "\n" for r in rendered))
                tokens = [len(r.tokens) for r in rendered]
                self.record("syn_mlm", split, lang, len(docs), tokens, "document tokens")
                summary.setdefault(lang, {})[split] = {
                    "documents": len(docs), "sentences": sum(len(d.sentences) for d in docs),
                    "tokens": int(sum(tokens))}
        return summary

    def lexicon_tsv(self) -> dict:
        lex = self.lexicon
        vocab = lex.vocab
        rows = ["\t".join(("lexeme", "class", "shared", *CODES))]
        for lexeme in vocab.lexemes:
            forms = [lex.forms[c][lexeme] or "" for c in CODES]
            rows.append("\t".join((lexeme, vocab.kind(lexeme), "yes" if lexeme in lex.shared else "no", *forms)))
        self.text(self.root / "lexicon.tsv", "\n".join(rows) + "\n")
        return {c: len({f for f in lex.forms[c].values() if f is not None and f not in PUNCT}) for c in CODES}


def length_stats(lengths: list[int], unit: str) -> dict:
    """min/median/mean/max and a histogram of whitespace-token lengths."""
    if not lengths:
        return {"unit": unit, "n": 0}
    a = np.asarray(lengths)
    edges = list(LENGTH_BUCKETS)
    buckets = {f"<={edges[0]}": int((a <= edges[0]).sum())}
    for lo, hi in zip(edges, edges[1:]):
        buckets[f"{lo + 1}-{hi}"] = int(((a > lo) & (a <= hi)).sum())
    buckets[f">{edges[-1]}"] = int((a > edges[-1]).sum())
    return {"unit": unit, "n": int(a.size), "min": int(a.min()), "median": float(np.median(a)),
            "mean": round(float(a.mean()), 2), "max": int(a.max()), "over_1000": int((a > 1000).sum()),
            "buckets": buckets}


def languages_summary(lexicon_sizes: dict[str, int]) -> dict:
    out = {}
    for code, spec in LANGUAGES.items():
        out[code] = {"description": spec.description, "word_order": spec.word_order,
                     "adjective": "after noun" if spec.adj_after_noun else "before noun",
                     "adpositions": "postpositions" if spec.postpositions else "prepositions",
                     "articles": spec.articles, "do_support": spec.do_support,
                     "wh_questions": ("fronted" if spec.wh_front else "in situ")
                     + (", question particle" if spec.q_particle else "")
                     + ("" if spec.wh_strand or not spec.wh_front else ", pied-piping"),
                     "words": lexicon_sizes[code]}
    return out


def file_table(root: Path) -> dict[str, dict]:
    """Every file under ``root`` (but the manifest): size and sha256, sorted by path."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST:
            continue
        data = path.read_bytes()
        out[rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return out


def atomic_dir(out: Path, write: Callable[[Path], dict]) -> dict:
    """Run ``write`` on a fresh folder beside ``out`` and rename it to ``out``.

    An existing ``out`` is replaced only if it is empty or an earlier world (has a manifest):
    anything else is somebody's data and is left alone.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise ConfigError(f"{out} exists and is not a synthetic world folder (no {MANIFEST}); "
                          "choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would outlive the rename
    try:
        result = write(tmp)
        old = tmp.with_name(tmp.name + ".old")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result
