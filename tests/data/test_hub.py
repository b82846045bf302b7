"""Hub loading on local data in each hub schema: config resolution, split mapping, mappers, labels.

The hub is unreachable in tests, so ``hub.load`` gets an injected ``load_dataset``: a recorder that
serves ``datasets.Dataset`` objects built with the hub's own features (ClassLabel included), or the
real ``datasets.load_dataset("json", …)`` on files written in the hub schema.
"""

from __future__ import annotations

import json

import datasets
import pytest
from datasets import ClassLabel, Dataset, Features, Sequence, Value, concatenate_datasets

from xstilts.data.loading import load_examples
from xstilts.data.readers import hub
from xstilts.data.examples import Answer, RetrievalExample, Sentence
from xstilts.errors import DataError, UnknownNameError
from xstilts.tasks import all_tasks, get_task
from xstilts.tasks.catalog import NLI_LABELS, PANX_TAGS, UPOS_TAGS

S = Value("string")
NLI = ClassLabel(names=list(NLI_LABELS))
SQUAD = Features({"id": S, "title": S, "context": S, "question": S,
                  "answers": Sequence({"text": S, "answer_start": Value("int32")})})
PAIRS = Features({"source_sentence": S, "target_sentence": S, "source_lang": S, "target_lang": S})


class FakeHub:
    """Stands in for ``datasets.load_dataset``: serves ``(path, config) → {split: rows}`` and records calls."""

    def __init__(self, tables: dict, features: Features):
        self.features = features
        self.tables = tables
        self.calls: list[tuple] = []

    def __call__(self, path, config=None, *, split):
        self.calls.append((path, config, split))
        splits = self.tables[(path, config)]
        # The hub's split arithmetic ("dev_r1+dev_r2"): concatenate, as datasets does.
        return concatenate_datasets([Dataset.from_list(splits[s], features=self.features)
                                     for s in split.split("+")])


def load(task, split, language, tables, features):
    fake = FakeHub(tables, features)
    return hub.load(get_task(task), split, language, load_dataset=fake), fake.calls


def squad_row(qid, context, question, answers, title="T"):
    return {"id": qid, "title": title, "context": context, "question": question,
            "answers": {"text": [a for a, _ in answers], "answer_start": [s for _, s in answers]}}


# ---------------------------------------------------------------- English tasks


def test_anli_through_real_json_loader_and_split_arithmetic(tmp_path):
    features = Features({"uid": S, "premise": S, "hypothesis": S, "label": NLI, "reason": S})
    files = {}
    for r, label in ((1, 0), (2, 2), (3, 1)):
        path = tmp_path / f"anli_dev_r{r}.jsonl"
        path.write_text(json.dumps({"uid": f"u{r}", "premise": f"P{r}.", "hypothesis": f"H{r}.",
                                    "label": label, "reason": ""}) + "\n")
        files[f"dev_r{r}"] = str(path)
    calls = []

    def json_hub(path, config=None, *, split):
        calls.append((path, config, split))
        return datasets.load_dataset("json", data_files=files, features=features, split=split,
                                     cache_dir=str(tmp_path / "cache"))

    out = hub.load(get_task("anli"), "dev", "en", load_dataset=json_hub)
    assert calls == [("facebook/anli", None, "dev_r1+dev_r2+dev_r3")]
    assert [(ex.id, ex.text_a, ex.label) for ex in out] == [
        ("u1", "P1.", "entailment"), ("u2", "P2.", "contradiction"), ("u3", "P3.", "neutral")]


def test_glue_mnli_and_qqp_resolve_labels():
    features = Features({"premise": S, "hypothesis": S, "label": NLI, "idx": Value("int32")})
    rows = [{"premise": "A.", "hypothesis": "B.", "label": 2, "idx": 0}]
    out, calls = load("mnli", "dev", "en", {("nyu-mll/glue", "mnli"): {"validation_matched": rows}}, features)
    assert calls == [("nyu-mll/glue", "mnli", "validation_matched")]
    assert (out[0].id, out[0].label) == ("0", "contradiction")

    features = Features({"question1": S, "question2": S,
                         "label": ClassLabel(names=["not_duplicate", "duplicate"]), "idx": Value("int32")})
    rows = [{"question1": "How?", "question2": "Why?", "label": 1, "idx": 5},
            {"question1": "Who?", "question2": "Whom?", "label": 0, "idx": 6}]
    out, _ = load("qqp", "train", "en", {("nyu-mll/glue", "qqp"): {"train": rows}}, features)
    assert [ex.label for ex in out] == ["1", "0"]  # the task (and GLUE's TSV) spells classes 0/1


def test_snli_excludes_label_minus_one_and_counts_it():
    features = Features({"premise": S, "hypothesis": S, "label": NLI})
    rows = [{"premise": "A.", "hypothesis": "B.", "label": 0},
            {"premise": "C.", "hypothesis": "D.", "label": -1},
            {"premise": "E.", "hypothesis": "F.", "label": 1}]
    out, _ = load("snli", "train", "en", {("stanfordnlp/snli", None): {"train": rows}}, features)
    assert [ex.label for ex in out] == ["entailment", "neutral"]
    assert out.excluded == {"label -1 (no annotator majority)": 1}


def test_anli_plus_through_load_examples(monkeypatch):
    # load_examples(source="hub") calls datasets.load_dataset itself: patch it with the fake.
    nli = Features({"premise": S, "hypothesis": S, "label": NLI})
    tables = {
        ("facebook/anli", None): {f"train_r{r}": [{"uid": f"a{r}", "premise": "P", "hypothesis": "H",
                                                   "label": 0, "reason": ""}] for r in (1, 2, 3)},
        ("nyu-mll/glue", "mnli"): {"train": [{"premise": "P", "hypothesis": "H", "label": 1, "idx": 0}]},
        ("stanfordnlp/snli", None): {"train": [{"premise": "P", "hypothesis": "H", "label": -1},
                                               {"premise": "P", "hypothesis": "H", "label": 2}]},
    }
    schemas = {"facebook/anli": Features({"uid": S, "premise": S, "hypothesis": S, "label": NLI, "reason": S}),
               "nyu-mll/glue": Features({**nli, "idx": Value("int32")}), "stanfordnlp/snli": nli}
    calls = []

    def fake(path, config=None, *, split):
        calls.append(path)
        return FakeHub(tables, schemas[path])(path, config, split=split)

    monkeypatch.setattr(datasets, "load_dataset", fake)
    out = load_examples("anli_plus", "train", source="hub")
    assert calls == ["facebook/anli", "nyu-mll/glue", "stanfordnlp/snli"]
    assert [ex.label for ex in out] == ["entailment"] * 3 + ["neutral", "contradiction"]


def test_squad_v2_unanswerable_and_answer_checks():
    context = "Normandy is a region in France."
    rows = [squad_row("q1", context, "Where?", [("France", 24)]), squad_row("q2", context, "Why?", [])]
    out, calls = load("squad_v2", "dev", "en", {("rajpurkar/squad_v2", None): {"validation": rows}}, SQUAD)
    assert calls == [("rajpurkar/squad_v2", None, "validation")]
    assert out[0].answers == (Answer("France", 24),) and not out[0].is_impossible
    assert out[1].answers == () and out[1].is_impossible

    bad = [squad_row("q3", context, "Where?", [("France", 40)])]
    with pytest.raises(DataError) as info:
        load("squad_v1", "dev", "en", {("rajpurkar/squad", None): {"validation": bad}}, SQUAD)
    assert (info.value.path, info.value.record, info.value.field) == (
        "hf://rajpurkar/squad[validation]", "q3", "answers[0].answer_start")


def test_multiple_choice_schemas():
    features = Features({"ind": Value("int32"), "activity_label": S, "ctx_a": S, "ctx_b": S, "ctx": S,
                         "endings": Sequence(S), "source_id": S, "split": S, "split_type": S, "label": S})
    row = {"ind": 4, "activity_label": "Roofing", "ctx_a": "A man is on a roof.", "ctx_b": "he",
           "ctx": "A man is on a roof. he", "endings": ["a", "b", "c", "d"], "source_id": "x",
           "split": "val", "split_type": "indomain", "label": "3"}
    out, _ = load("hellaswag", "dev", "en",
                  {("Rowan/hellaswag", None): {"validation": [row, {**row, "ind": 5, "label": ""}]}}, features)
    assert [(ex.id, ex.context, ex.question, ex.label) for ex in out] == [
        ("4", "A man is on a roof.", "he", 3), ("5", "A man is on a roof.", "he", None)]

    features = Features({"id": S, "question": S, "question_concept": S,
                         "choices": Sequence({"label": S, "text": S}), "answerKey": S})
    row = {"id": "c1", "question": "Where?", "question_concept": "x",
           "choices": {"label": list("ABCDE"), "text": ["v", "w", "x", "y", "z"]}, "answerKey": "C"}
    out, _ = load("commonsenseqa", "dev", "en", {("tau/commonsense_qa", None): {"validation": [row]}}, features)
    assert (out[0].question, out[0].choices[2], out[0].label) == ("Where?", "x", 2)

    features = Features({"id": S, "context": S, "question": S, **{f"answer{k}": S for k in range(4)},
                         "label": Value("int32")})
    row = {"id": "m1", "context": "C.", "question": "Q?", "answer0": "a", "answer1": "b", "answer2": "c",
           "answer3": "d", "label": 1}
    out, _ = load("cosmosqa", "train", "en", {("allenai/cosmos_qa", None): {"train": [row]}}, features)
    assert (out[0].choices, out[0].label) == (("a", "b", "c", "d"), 1)


# ---------------------------------------------------------------- XTREME (google/xtreme)


def test_xtreme_xnli_filters_its_language():
    features = Features({"language": S, "sentence1": S, "sentence2": S, "gold_label": S})
    rows = [{"language": lang, "sentence1": f"{lang} a", "sentence2": f"{lang} b", "gold_label": label}
            for lang, label in (("en", "neutral"), ("de", "entailment"), ("de", "contradiction"))]
    out, calls = load("xnli", "dev", "de", {("google/xtreme", "XNLI"): {"validation": rows}}, features)
    assert calls == [("google/xtreme", "XNLI", "validation")]
    assert [(ex.id, ex.text_a, ex.label) for ex in out] == [
        ("dev-de-0", "de a", "entailment"), ("dev-de-1", "de a", "contradiction")]


def test_xtreme_pawsx_config_template_and_unknown_label():
    features = Features({"sentence1": S, "sentence2": S, "label": S})
    rows = [{"sentence1": "A", "sentence2": "B", "label": "1"}]
    out, calls = load("pawsx", "test", "fr", {("google/xtreme", "PAWS-X.fr"): {"test": rows}}, features)
    assert calls == [("google/xtreme", "PAWS-X.fr", "test")] and out[0].label == "1"
    with pytest.raises(DataError) as info:
        load("pawsx", "test", "fr", {("google/xtreme", "PAWS-X.fr"): {"test": [{**rows[0], "label": "2"}]}},
             features)
    assert (info.value.record, info.value.field) == ("test-fr-0", "label")


def test_xtreme_udpos_names_come_from_the_features():
    features = Features({"tokens": Sequence(S), "pos_tags": Sequence(ClassLabel(names=list(UPOS_TAGS)))})
    rows = [{"tokens": ["Das", "Haus"], "pos_tags": [UPOS_TAGS.index("DET"), UPOS_TAGS.index("NOUN")]}]
    out, calls = load("udpos", "dev", "de", {("google/xtreme", "udpos.German"): {"validation": rows}}, features)
    assert calls == [("google/xtreme", "udpos.German", "validation")]
    assert (out[0].tokens, out[0].tags) == (("Das", "Haus"), ("DET", "NOUN"))


def test_minus_one_is_no_label_only_where_the_schema_says_so():
    # -1 is the hub's "no label" in GLUE's test splits; in a tag sequence or an XTREME label it is a
    # class index outside the task's set, not a silently unlabelled token or pair.
    out, _ = load("mnli", "dev", "en", {("nyu-mll/glue", "mnli"): {
        "validation_matched": [{"premise": "P", "hypothesis": "H", "label": -1, "idx": 3}]}},
        Features({"premise": S, "hypothesis": S, "label": NLI, "idx": Value("int32")}))
    assert out[0].label is None
    upos = Features({"tokens": Sequence(S), "pos_tags": Sequence(ClassLabel(names=list(UPOS_TAGS)))})
    rows = [{"tokens": ["Das", "Haus"], "pos_tags": [UPOS_TAGS.index("DET"), -1]}]
    with pytest.raises(DataError, match="class index -1") as info:
        load("udpos", "dev", "de", {("google/xtreme", "udpos.German"): {"validation": rows}}, upos)
    assert (info.value.path, info.value.record, info.value.field) == (
        "hf://google/xtreme/udpos.German[validation]", "dev-de-0", "pos_tags")
    pawsx = Features({"sentence1": S, "sentence2": S, "label": ClassLabel(names=["0", "1"])})
    with pytest.raises(DataError, match="class index -1") as info:
        load("pawsx", "test", "fr", {("google/xtreme", "PAWS-X.fr"): {
            "test": [{"sentence1": "A", "sentence2": "B", "label": -1}]}}, pawsx)
    assert (info.value.record, info.value.field) == ("test-fr-0", "label")


def test_xtreme_xnli_class_indices_through_the_features():
    # A ClassLabel gold_label is a class index: its name comes from the features, then the label set.
    features = Features({"language": S, "sentence1": S, "sentence2": S, "gold_label": NLI})
    rows = [{"language": "de", "sentence1": "a", "sentence2": "b", "gold_label": 2}]
    out, _ = load("xnli", "dev", "de", {("google/xtreme", "XNLI"): {"validation": rows}}, features)
    assert out[0].label == "contradiction"
    other = Features({"language": S, "sentence1": S, "sentence2": S,
                      "gold_label": ClassLabel(names=["entailment", "neutral", "contradiction", "perhaps"])})
    with pytest.raises(DataError, match="unknown label 'perhaps'") as info:
        load("xnli", "dev", "de", {("google/xtreme", "XNLI"): {"validation": [{**rows[0], "gold_label": 3}]}},
             other)
    assert (info.value.record, info.value.field) == ("dev-de-0", "gold_label")


def test_xtreme_panx_tags_and_language_check():
    features = Features({"tokens": Sequence(S), "ner_tags": Sequence(ClassLabel(names=list(PANX_TAGS))),
                         "langs": Sequence(S)})
    rows = [{"tokens": ["Angela", "Merkel", "spricht"], "ner_tags": [1, 2, 0], "langs": ["de"] * 3}]
    out, _ = load("panx", "test", "de", {("google/xtreme", "PAN-X.de"): {"test": rows}}, features)
    assert out[0].tags == ("B-PER", "I-PER", "O")
    with pytest.raises(DataError) as info:
        load("panx", "test", "de", {("google/xtreme", "PAN-X.de"): {"test": [{**rows[0], "langs": ["en"] * 3}]}},
             features)
    assert info.value.field == "langs"


def test_xtreme_tydiqa_filters_by_id_prefix():
    rows = [squad_row("finnish-123-0", "Helsinki on pääkaupunki.", "Mikä?", [("Helsinki", 0)]),
            squad_row("arabic-456-1", "abc", "?", [("b", 1)])]
    out, calls = load("tydiqa", "test", "fi", {("google/xtreme", "tydiqa"): {"validation": rows}}, SQUAD)
    assert calls == [("google/xtreme", "tydiqa", "validation")]
    assert [ex.id for ex in out] == ["finnish-123-0"]


def test_xquad_and_mlqa_configs():
    rows = [squad_row("56beb4343aeaaa14008c925b", "Die Panthers gaben 308 Punkte ab.", "Wie viele?",
                      [("308", 19)])]
    out, calls = load("xquad", "test", "de", {("google/xtreme", "XQuAD.de"): {"validation": rows}}, SQUAD)
    assert calls == [("google/xtreme", "XQuAD.de", "validation")] and out[0].answers == (Answer("308", 19),)
    _, calls = load("mlqa", "dev", "de", {("google/xtreme", "MLQA.de.de"): {"validation": rows}}, SQUAD)
    assert calls == [("google/xtreme", "MLQA.de.de", "validation")]


def test_xtreme_tatoeba_aligned_pairs():
    rows = [{"source_sentence": "Ich bin müde.\n", "target_sentence": "I am tired.\n",
             "source_lang": "deu", "target_lang": "eng"},
            {"source_sentence": "Danke.\n", "target_sentence": "Thanks.\n", "source_lang": "deu", "target_lang": "eng"}]
    (ex,), calls = load("tatoeba", "test", "de", {("google/xtreme", "tatoeba.deu"): {"validation": rows}}, PAIRS)
    assert calls == [("google/xtreme", "tatoeba.deu", "validation")]
    assert ex == RetrievalExample("test-de-en", (Sentence("0", "Ich bin müde."), Sentence("1", "Danke.")),
                                  (Sentence("0", "I am tired."), Sentence("1", "Thanks.")),
                                  (("0", "0"), ("1", "1")))


def test_xtreme_bucc_ids_from_the_lang_columns():
    rows = [{"source_sentence": "Ein Satz.", "target_sentence": "A sentence.",
             "source_lang": "de-000081", "target_lang": "en-000053"},
            {"source_sentence": "Noch einer.", "target_sentence": "A sentence.",
             "source_lang": "de-000090", "target_lang": "en-000053"}]
    (ex,), calls = load("bucc2018", "dev", "de", {("google/xtreme", "bucc18.de"): {"validation": rows}}, PAIRS)
    assert calls == [("google/xtreme", "bucc18.de", "validation")]
    assert [s.id for s in ex.source] == ["de-000081", "de-000090"] and len(ex.target) == 1
    assert ex.gold == (("de-000081", "en-000053"), ("de-000090", "en-000053"))
    clash = [{**rows[0], "source_lang": "de"}, {**rows[1], "source_lang": "de"}]
    with pytest.raises(DataError) as info:
        load("bucc2018", "dev", "de", {("google/xtreme", "bucc18.de"): {"validation": clash}}, PAIRS)
    assert (info.value.record, info.value.field) == ("row 1", "source_lang")


# ---------------------------------------------------------------- resolution errors


def test_resolution_errors():
    with pytest.raises(UnknownNameError, match="hub split of xnli"):
        hub.load(get_task("xnli"), "train", "en", load_dataset=None)
    with pytest.raises(UnknownNameError, match="language of hub dataset google/xtreme"):
        hub.resolve_config(get_task("udpos").hub, "xx")
    with pytest.raises(DataError, match="no Hugging Face hub source"):
        hub.load(get_task("ccg"), "dev", "en")
    with pytest.raises(UnknownNameError, match="did you mean 'squad'"):
        hub.get_mapper("squadd")


def test_every_declared_mapper_exists():
    for task in all_tasks():
        if task.hub:
            assert hub.get_mapper(task.hub.mapper)
