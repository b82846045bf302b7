"""The world's files: deterministic, complete, in the real layouts, read by the real readers."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from xstilts.data.loading import load_examples
from xstilts.errors import ConfigError
from xstilts.tasks import all_tasks, get_task
from xstilts.world import generate

SYN_TASKS = [t for t in all_tasks() if t.name.startswith("syn_")]


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_byte_identical_files(tmp_path, tiny_world):
    root, _ = tiny_world
    again = tmp_path / "again"
    generate(again, seed=0, size="tiny")
    assert _hashes(again) == _hashes(root)


def test_a_pool_of_workers_writes_the_same_bytes_as_one_process(tmp_path):
    # Translations on: every writer runs, in a pool of two even though the world is small.
    serial = generate(tmp_path / "serial", seed=0, size="tiny", translations=True, workers=1)
    pooled = generate(tmp_path / "pooled", seed=0, size="tiny", translations=True, workers=2)
    assert _hashes(tmp_path / "pooled") == _hashes(tmp_path / "serial")
    assert pooled == serial and len(serial["files"]) > 50  # not vacuous


def test_another_seed_differs(tmp_path, tiny_world):
    root, _ = tiny_world
    generate(tmp_path / "w1", seed=1, size="tiny")
    other = _hashes(tmp_path / "w1")
    same = {k for k, v in _hashes(root).items() if other.get(k) == v}
    assert set(other) == set(_hashes(root))
    assert not same, f"files identical across seeds: {sorted(same)}"


def test_resizing_one_task_changes_no_other(tmp_path, tiny_world):
    root, _ = tiny_world
    out = tmp_path / "resized"
    generate(out, seed=0, size="tiny", sizes={"syn_nli": {"train": 7}})
    changed = {k for k, v in _hashes(out).items() if _hashes(root).get(k) != v}
    # The .stagged provenance header records the command (with its --set); the sentences do not change.
    stagged = {"english/syn_tags/train.stagged", "english/syn_tags/dev.stagged"}
    assert changed == {"english/syn_nli/train.jsonl", "meta/syn_nli/train-en.jsonl", "manifest.json"} | stagged
    for rel in stagged:
        body = lambda p: [x for x in p.read_text().splitlines() if not x.startswith("# ")]  # noqa: E731
        assert body(out / rel) == body(root / rel)


def test_manifest_lists_every_file(tiny_world):
    root, manifest = tiny_world
    on_disk = _hashes(root)
    on_disk.pop("manifest.json")
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == on_disk
    assert json.loads((root / "manifest.json").read_text()) == manifest


@pytest.mark.parametrize("task", SYN_TASKS, ids=lambda t: t.name)
def test_every_split_and_language_loads_with_the_manifest_counts(task, tiny_world):
    root, manifest = tiny_world
    for split, languages in task.splits.items():
        for lang in languages:
            examples = load_examples(task, split, lang, data_dir=root, require_labels=True)
            n = len(examples[0].source) if task.format == "retrieval" else len(examples)
            assert n == manifest["counts"][task.name][split][lang] > 0, (split, lang)
            if task.format == "retrieval":
                assert len(examples[0].gold) == n
            elif task.format == "span_qa":
                assert all(len(ex.answers) == 1 for ex in examples)
            elif task.format == "tagging":
                assert all(ex.tags is not None and len(ex.tags) == len(ex.tokens) for ex in examples)
            elif task.format in ("classification", "multiple_choice"):
                assert all(ex.label is not None for ex in examples)


def test_target_test_labels_are_stripped_and_kept_in_labels(tiny_world):
    root, _ = tiny_world
    download, labels = root / "xtreme" / "download", root / "xtreme" / "labels"
    for lang in ("en", "xa", "xb", "xc"):
        with open(download / "syn_xnli" / f"test-{lang}.tsv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        assert {len(r) for r in rows} == {2}
        assert len((labels / "syn_xnli" / f"test-{lang}.tsv").read_text().splitlines()) == len(rows)
        assert (download / "syn_xnli" / f"test-{lang}.tsv").read_bytes().count(b"\r\n") == len(rows)  # csv.writer
        pos = (download / "syn_pos" / f"test-{lang}.tsv").read_text().split("\n")
        assert all("\t" not in line for line in pos)
        gold_tags = (labels / "syn_pos" / f"test-{lang}.tsv").read_text().split("\n")
        assert [bool(x) for x in pos] == [bool(x) for x in gold_tags]
        blank = json.loads((download / "syn_qa" / f"test-{lang}.json").read_text())
        for article in blank["data"]:  # remove_qa_test_annotations: one paragraph, one question each
            assert set(article) == {"paragraphs"} and len(article["paragraphs"]) == 1
            (qa,) = article["paragraphs"][0]["qas"]
            assert list(qa) == ["answers", "question", "id"]
            assert qa["answers"] == [{"answer_start": 0, "text": ""}]
        gold = json.loads((labels / "syn_qa" / f"test-{lang}.json").read_text())
        assert sum(len(p["qas"]) for a in gold["data"] for p in a["paragraphs"]) == len(blank["data"])
        # Read without the label folder, the test splits are unlabelled.
        unlabelled = load_examples("syn_qa", "test", lang, data_dir=root)
        assert unlabelled and all(not ex.answers for ex in _without_gold("syn_qa", lang, root))
        assert all(ex.label is None for ex in _without_gold("syn_xnli", lang, root))


def _without_gold(task: str, lang: str, root: Path):
    from xstilts.data import readers
    from xstilts.data.loading import resolve_files

    t = get_task(task)
    paths, _ = resolve_files(t, "test", lang, root)
    return readers.read(t.reader, paths, gold=None, language=lang, split="test", labels=t.labels)


def test_tatoeba_english_side_is_sorted_and_gold_is_a_permutation(tiny_world):
    root, _ = tiny_world
    for lang in ("xa", "xb", "xc"):
        english = (root / f"xtreme/download/syn_tatoeba/{lang}-en.en").read_text().splitlines()
        assert english == sorted(english) and len(set(english)) == len(english)
        gold = [int(x) for x in (root / f"xtreme/labels/syn_tatoeba/test-{lang}.tsv").read_text().split()]
        assert sorted(gold) == list(range(len(english)))
        # evaluate.py's layout: line j names the source sentence that sorted English line j translates.
        source = (root / f"xtreme/download/syn_tatoeba/{lang}-en.{lang}").read_text().splitlines()
        (pair,) = load_examples("syn_tatoeba", "test", lang, data_dir=root, require_labels=True)
        assert pair.gold == tuple((str(i), str(j)) for j, i in enumerate(gold))
        assert [pair.source[int(s)].text for s, _ in pair.gold] == [source[i] for i in gold]
        # Numbers are spelled alike in every language: each gold pair carries the same ones.
        digits = lambda text: sorted(w for w in text.split() if w.isdigit())  # noqa: E731
        assert all(digits(source[i]) == digits(english[j]) for j, i in enumerate(gold))
        assert sum(bool(digits(english[j])) for j in range(len(english))) >= 2


def test_dev_and_test_are_parallel_across_languages(tiny_world):
    root, _ = tiny_world
    labels = {lang: (root / f"xtreme/labels/syn_xnli/test-{lang}.tsv").read_text() for lang in ("en", "xa", "xb", "xc")}
    assert len(set(labels.values())) == 1
    ids = {lang: [ex.id for ex in load_examples("syn_qa", "dev", lang, data_dir=root)] for lang in ("en", "xa", "xb", "xc")}
    assert len({tuple(v) for v in ids.values()}) == 1


def test_replacing_a_world_is_atomic_and_refuses_other_folders(tmp_path):
    out = tmp_path / "w"
    generate(out, seed=0, size="tiny", sizes={t: {s: 2 for s in ("train", "dev", "test")} for t in ("syn_qa",)})
    generate(out, seed=1, size="tiny")
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # no temp or old folders left
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a synthetic world"):
        generate(other, seed=0, size="tiny")
    assert (other / "notes.txt").read_text() == "keep me"
