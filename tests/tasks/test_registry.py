import json

import pytest

from xstilts.errors import UnknownNameError
from xstilts.tasks import FORMATS, Task, all_tasks, get_task, register
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

INTERMEDIATE = {"anli", "mnli", "qqp", "squad_v1", "squad_v2", "hellaswag", "commonsenseqa", "cosmosqa", "ccg"}
TARGETS = {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"}


def test_all_paper_tasks_are_declared():
    names = {t.name for t in all_tasks()}
    assert INTERMEDIATE | TARGETS | {"mlm", "anli_plus"} <= names
    assert {t.name for t in all_tasks() if t.role == "target" and not t.name.startswith("syn_")} == TARGETS
    assert INTERMEDIATE <= {t.name for t in all_tasks() if t.role == "intermediate"}


def test_target_languages_equal_xtreme_evaluate(golden_dir):
    # The aggregate golden case carries evaluate.py's XTREME_TASK2LANGS and XTREME_GROUP2TASK.
    gold = json.loads((golden_dir / "xtreme_aggregate_mock_scores.json").read_text())["gold"]
    assert {k: list(v) for k, v in XTREME_LANGUAGES.items()} == gold["task2langs"]
    assert {k: list(v) for k, v in XTREME_GROUPS.items()} == gold["group2task"]
    for name, langs in XTREME_LANGUAGES.items():
        assert get_task(name).test_languages == langs


def test_declarations_are_complete():
    for t in all_tasks():
        assert t.format in FORMATS
        assert t.description and t.metric
        if not t.components:
            assert t.reader, t.name
            assert set(t.files) == set(t.splits), t.name
        for split, langs in t.splits.items():
            assert langs, (t.name, split)
        if t.format == "span_qa":
            assert t.doc_stride and t.max_query_length and t.max_answer_length
        if t.role == "intermediate":
            assert set(t.languages) == {"en"}


def test_components_exist():
    assert get_task("anli_plus").components == ("anli", "mnli", "snli")
    for t in all_tasks():
        for c in t.components:
            assert get_task(c).format == t.format


def test_unknown_task_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'xnli'"):
        get_task("xnl")


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        register(get_task("xnli"))


def test_unknown_format_rejected():
    with pytest.raises(UnknownNameError, match="format"):
        Task(name="x", format="seq2seq", role="target", description="d", splits={"test": ("en",)}, metric="accuracy")


def test_declarations_are_immutable():
    with pytest.raises(TypeError):
        get_task("xnli").splits["train"] = ("de",)
