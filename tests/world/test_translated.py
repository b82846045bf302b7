"""The world's intermediate tasks in its other languages: the translate-train files.

The same items as the English files, rendered by each language's grammar, in the same schema, at
the place translate-train reads them (:func:`xstilts.data.loading.translated_files`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.data.loading import load_examples, translated_files
from xstilts.errors import UnknownNameError
from xstilts.tasks import get_task
from xstilts.world import INTERMEDIATE_TASKS, TRANSLATED_LANGUAGES, generate

SPLITS = ("train", "dev")


@pytest.fixture(scope="module")
def translated_world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("world") / "tiny-translated"
    return out, generate(out, seed=0, size="tiny", translations=True)


def _key(ex) -> tuple:
    """What a translation keeps: the id and the label (not the words)."""
    return (ex.id, getattr(ex, "label", None))


@pytest.mark.parametrize("task", INTERMEDIATE_TASKS)
def test_every_intermediate_task_is_written_in_every_other_language(task, translated_world):
    root, manifest = translated_world
    t = get_task(task)
    for split in SPLITS:
        english = load_examples(t, split, "en", data_dir=root)
        for lang in TRANSLATED_LANGUAGES:
            (path,) = translated_files(t, split, lang)
            assert (root / path).is_file()
            assert manifest["translations"]["files"][task][split][lang] == path.as_posix()
            translated = load_examples(t, split, lang, data_dir=root, translated=True)
            assert len(translated) == len(english) == manifest["counts"][task][split][lang] > 0
            if task != "syn_tags":  # the same items, same ids and labels (a .stagged line has no id)
                assert [_key(ex) for ex in translated] == [_key(ex) for ex in english]
            assert sum(str(a) != str(b) for a, b in zip(translated, english)) == len(english)  # other words


def test_translated_tags_are_the_categories_of_the_english_words(translated_world):
    root, _ = translated_world
    english = load_examples("syn_tags", "train", "en", data_dir=root)
    vocabulary = {t for ex in english for t in ex.tags}
    for lang in TRANSLATED_LANGUAGES:
        for en, tr in zip(english, load_examples("syn_tags", "train", lang, data_dir=root, translated=True)):
            assert len(tr.tags) == len(tr.tokens) and set(tr.tags) <= vocabulary
            # Names are spelled alike in every language (anchors): tagged as in English.
            names = {w for w, t in zip(en.tokens, en.tags) if t == "NP"}
            assert [t for w, t in zip(tr.tokens, tr.tags) if w in names] == ["NP"] * sum(w in names for w in tr.tokens)
            assert tr.tokens != en.tokens


def test_translated_qa_answers_sit_at_their_offsets(translated_world):
    root, _ = translated_world
    english = {ex.id: ex for ex in load_examples("syn_longqa", "train", "en", data_dir=root)}
    for lang in TRANSLATED_LANGUAGES:
        for ex in load_examples("syn_longqa", "train", lang, data_dir=root, translated=True):
            (answer,) = ex.answers
            assert ex.context[answer.start:answer.start + len(answer.text)] == answer.text
            assert ex.question != english[ex.id].question and ex.context != english[ex.id].context


def test_nli_translations_keep_premise_labels_and_story_endings(translated_world):
    root, _ = translated_world
    for lang in TRANSLATED_LANGUAGES:
        rows = [json.loads(x) for x in (root / translated_files(get_task("syn_nli"), "train", lang)[0]).open()]
        english = [json.loads(x) for x in (root / "english/syn_nli/train.jsonl").open()]
        assert [r["uid"] for r in rows] == [r["uid"] for r in english]
        assert [r["label"] for r in rows] == [r["label"] for r in english]
        stories = load_examples("syn_story", "dev", lang, data_dir=root, translated=True)
        assert all(len(ex.choices) == 4 and ex.label in range(4) for ex in stories)


def test_a_translation_is_read_only_when_asked(translated_world):
    root, _ = translated_world
    with pytest.raises(UnknownNameError, match="language of syn_nli train 'xa'"):
        load_examples("syn_nli", "train", "xa", data_dir=root)  # evaluation never reads a translation


def test_the_tiny_preset_writes_none_and_translations_change_no_other_file(tmp_path, translated_world):
    root, manifest = translated_world
    plain = generate(tmp_path / "plain", seed=0, size="tiny")
    assert plain["translations"] == {"languages": [], "files": {}}
    assert not list((tmp_path / "plain").rglob("translated"))
    # Rendering the same items in more languages draws nothing at random: every other file is the
    # same, but the .stagged provenance header, which records the command (--set translations=true).
    changed = {k for k, v in plain["files"].items() if manifest["files"][k] != v}
    assert changed == {"english/syn_tags/train.stagged", "english/syn_tags/dev.stagged"}
    # A data file per task, split and language, and a meta file but for syn_tags (it has none in English).
    per_language = 2 * len(INTERMEDIATE_TASKS) - 1
    assert len(manifest["files"]) - len(plain["files"]) == per_language * len(SPLITS) * len(TRANSLATED_LANGUAGES)
