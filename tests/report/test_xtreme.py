"""The report's XTREME section on hand-built run folders: its numbers are aggregate.py's (evaluate.py's
averaging), a partial folder is labelled with what it covers and never gets an XTREME score, and
published numbers appear only beside an XLM-R large encoder."""

from __future__ import annotations

import csv
import html
import json
import re

import numpy as np
import pytest
import yaml

from xstilts.metrics.aggregate import summarise_task, xtreme_scores
from xstilts.pipeline.results import make_row
from xstilts.published import PUBLISHED, THREE_CATEGORIES, is_xlmr_large
from xstilts.report import build_report
from xstilts.report.data import load
from xstilts.report.xtreme import comparable, encoder_name, xtreme_units
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

XLMR = "FacebookAI/xlm-roberta-large"
SEEDS = (1, 2)
RETRIEVAL = ("bucc2018", "tatoeba")


def _metrics(task: str, rng: np.random.Generator) -> dict[str, float]:
    """evaluate.py's metrics of ``task`` plus what xstilts adds (which XTREME ignores)."""
    if task in XTREME_GROUPS["qa"]:
        em = float(rng.uniform(20, 60))
        return {"exact_match": em, "f1": em + float(rng.uniform(5, 20))}
    if task in ("udpos", "panx"):
        return {"f1": float(rng.uniform(40, 90)), "precision": 50.0, "recall": 50.0, "token_accuracy": 99.0}
    if task == "bucc2018":
        return {"f1": float(rng.uniform(40, 90)), "precision": 60.0, "recall": 70.0, "threshold": 1.05}
    return {"accuracy": float(rng.uniform(40, 90))}


class Folder:
    """A run-output folder written the way the pipeline writes it: one run per condition, seed and
    target; retrieval rows (after the intermediate phase) in every run of the condition."""

    def __init__(self, root, encoder: str = XLMR):
        self.root, self.encoder, self.rows, self.runs = root, encoder, [], {}
        self.truth: dict = {}  # (intermediate, seed) → task → metric → language → value

    def add(self, intermediate: tuple, max_len, seed: int, tasks: dict[str, tuple], rng) -> None:
        targets = [t for t in tasks if t not in RETRIEVAL] or ["xnli"]
        retrieval = {t: tasks[t] for t in tasks if t in RETRIEVAL}
        values = self.truth.setdefault((intermediate, seed), {})
        for task, langs in tasks.items():
            for lang in langs:
                for m, v in _metrics(task, rng).items():
                    values.setdefault(task, {}).setdefault(m, {})[lang] = v
        for target in targets:
            run_id = f"{'+'.join(intermediate) or 'base'}-{max_len}-{target}-s{seed}"
            common = dict(run_id=run_id, config_hash="h", intermediate=list(intermediate),
                          intermediate_max_len=max_len if intermediate else None, target=target, seed=seed, n=100)
            phases = [{"kind": "pretrained", "model": self.encoder}]
            if intermediate:
                phases.append({"kind": "intermediate", "tasks": list(intermediate), "max_length": max_len})
            phases += [{"kind": "retrieval_eval", "tasks": list(RETRIEVAL)}, {"kind": "target", "task": target},
                       {"kind": "zero_shot_eval"}]
            self.runs[run_id] = {"name": run_id, "seed": seed, "phases": phases}
            for task, langs in [(target, tasks.get(target, ())), *retrieval.items()]:
                phase = "retrieval_eval" if task in RETRIEVAL else "zero_shot_eval"
                for lang in langs:
                    for m, v in values[task].items():
                        self.rows.append(make_row(phase=phase, task=task, language=lang, split="test", metric=m,
                                                  value=v[lang], **common))
            # What the XTREME score must not take: dev, other buckets, languages outside XTREME's lists.
            self.rows.append(make_row(phase="zero_shot_eval", task=target, language="de", split="dev",
                                      metric="accuracy", value=1.0, **common))
            self.rows.append(make_row(phase="zero_shot_eval", task=target, language="de", split="test",
                                      metric="accuracy", value=2.0, bucket="quartile:1", **common))
            self.rows.append(make_row(phase="zero_shot_eval", task="xquad", language="ro", split="test",
                                      metric="f1", value=3.0, **common))

    def write(self):
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        with open(self.root / "results.jsonl", "w", encoding="utf-8") as f:
            for r in self.rows:
                f.write(json.dumps(r) + "\n")
        for run_id, config in self.runs.items():
            (self.root / "runs" / run_id).mkdir()
            (self.root / "runs" / run_id / "config.yaml").write_text(yaml.safe_dump(config))
        return self.root


ALL = {t: langs for t, langs in XTREME_LANGUAGES.items()}
PARTIAL = {"xquad": XTREME_LANGUAGES["xquad"][:5], "tatoeba": XTREME_LANGUAGES["tatoeba"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(0)
    f = Folder(tmp_path_factory.mktemp("xtreme") / "out")
    for seed in SEEDS:
        f.add(("mnli",), 128, seed, ALL, rng)
        f.add((), None, seed, PARTIAL, rng)
    f.write()
    return f


def _expected_full(folder: Folder):
    """The XTREME scores of every seed by aggregate.py, then their mean over seeds."""
    per_seed = [xtreme_scores(folder.truth[(("mnli",), s)]) for s in SEEDS]
    overall = {k: np.mean([o[k] for o, _ in per_seed]) for k in per_seed[0][0]}
    tasks = {t: np.mean([d[t]["avg_metric"] for _, d in per_seed]) for t in XTREME_LANGUAGES}
    return overall, tasks


def _unit(units, intermediate):
    (unit,) = [u for u in units if u.intermediate == intermediate]
    return unit


def test_full_condition_gets_evaluate_py_scores_averaged_over_seeds(folder) -> None:
    units = xtreme_units(load(folder.root))
    assert len(units) == 2
    unit = _unit(units, ("mnli",))
    overall, tasks = _expected_full(folder)
    assert unit.full and unit.seeds == list(SEEDS) and unit.encoder == "xlm-roberta-large"
    assert set(unit.overall) == {"all_task", *XTREME_GROUPS}
    for key, value in overall.items():
        assert unit.overall[key] == pytest.approx(value, abs=1e-9), key
    for task, value in tasks.items():
        assert unit.detailed[task]["avg_metric"] == pytest.approx(value, abs=1e-9), task
    # QA is (EM+F1)/2; tagging and BUCC F1 (not token accuracy, precision or a threshold); the rest accuracy.
    s1 = folder.truth[(("mnli",), 1)]
    assert summarise_task("xquad", s1["xquad"])["avg_metric"] == pytest.approx(
        (np.mean(list(s1["xquad"]["exact_match"].values())) + np.mean(list(s1["xquad"]["f1"].values()))) / 2)
    assert "token_accuracy" not in unit.scores["udpos"] and "threshold" not in unit.scores["bucc2018"]
    assert unit.coverage() == "every task in every XTREME language"


def test_partial_condition_is_labelled_and_never_an_xtreme_score(folder) -> None:
    unit = _unit(xtreme_units(load(folder.root)), ())
    assert not unit.full and "all_task" not in unit.overall
    # retrieval (bucc2018 missing) and qa (mlqa, tydiqa missing) are incomplete categories: no average
    assert unit.overall == {}
    assert unit.coverage() == ("2 of 9 tasks (no pawsx, xnli, panx, udpos, bucc2018, mlqa, tydiqa); "
                               "xquad over 5 of 11 languages")
    # the task scores are means over the languages evaluated, seeds averaged
    expected = np.mean([summarise_task("xquad", folder.truth[((), s)]["xquad"])["avg_metric"] for s in SEEDS])
    assert unit.detailed["xquad"]["avg_metric"] == pytest.approx(expected, abs=1e-9)
    assert unit.languages("xquad") == list(XTREME_LANGUAGES["xquad"][:5])
    assert unit.complete("tatoeba") and not unit.complete("xquad")


def test_report_table_and_csv(folder) -> None:
    index = build_report(folder.root, n_resamples=20)
    page = index.read_text(encoding="utf-8")
    assert '<section id="xtreme">' in page
    with open(folder.root / "report" / "tables" / "xtreme_scores.csv", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    overall, _ = _expected_full(folder)
    scores = {(r["intermediate"], r["what"]): r for r in records}
    assert float(scores[("mnli", "xtreme_score")]["value"]) == pytest.approx(overall["all_task"], abs=1e-6)
    assert scores[("mnli", "xtreme_score")]["complete"] == "True"
    partial = scores[("none", "xtreme_score")]
    assert partial["value"] == "" and partial["complete"] == "False" and "2 of 9 tasks" in partial["coverage"]
    assert scores[("none", "xquad")]["n_languages"] == "5" and scores[("none", "xquad")]["complete"] == "False"
    # In the HTML the partial row's XTREME score cell is empty ("–"), followed by its coverage.
    section = page[page.index('<section id="xtreme">'):]
    section = section[:section.index("</section>")]
    cells = [html.unescape(re.sub("<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", section)]
    at = cells.index("none (baseline)")
    coverage = next(i for i in range(at, len(cells)) if cells[i].startswith("2 of 9 tasks"))
    assert cells[coverage - 1] == "–"


def test_published_numbers_beside_xlmr_large_only(folder, tmp_path) -> None:
    units = xtreme_units(load(folder.root))
    full = _unit(units, ("mnli",))
    by_what = {(p.model, p.what): p for p in PUBLISHED}
    xnli = by_what[("XLM-R large", "xnli")]
    assert comparable(full, xnli) == pytest.approx(full.detailed["xnli"]["avg_accuracy"])
    xquad = by_what[("XLM-R large", "xquad")]  # F1 alone, as the source shows it
    assert comparable(full, xquad) == pytest.approx(full.detailed["xquad"]["avg_f1"])
    assert comparable(full, by_what[("XLM-R large", "qa")]) == pytest.approx(full.overall["qa"])
    three = np.mean([full.overall[g] for g in THREE_CATEGORIES.split("+")])
    assert comparable(full, by_what[("X-STILTs", THREE_CATEGORIES)]) == pytest.approx(three)
    assert comparable(_unit(units, ()), xquad) is None  # 5 of 11 languages: not comparable
    page = build_report(folder.root, n_resamples=20).read_text(encoding="utf-8")
    assert "Published numbers of XLM-R large and X-STILTs" in page and "needs XTREME&#x27;s full test sets" in page

    other = Folder(tmp_path / "other", encoder="/models/mini-e5")
    other.add(("mnli",), 128, 1, PARTIAL, np.random.default_rng(1))
    page = build_report(other.write(), n_resamples=20).read_text(encoding="utf-8")
    assert '<section id="xtreme">' in page and "Published numbers of XLM-R large" not in page
    assert "shown only for runs whose encoder is xlm-roberta-large" in page


def test_every_published_number_has_a_source_and_a_split() -> None:
    assert PUBLISHED
    for item in PUBLISHED:
        assert item.source and item.split in ("test", "dev", "not stated by the source") and item.value > 0
        assert item.what in XTREME_LANGUAGES or item.what in XTREME_GROUPS or item.what in (THREE_CATEGORIES,
                                                                                            "xtreme_gain")


def test_encoder_names() -> None:
    assert is_xlmr_large("FacebookAI/xlm-roberta-large") and is_xlmr_large("/data/models/xlm-roberta-large/")
    assert not is_xlmr_large("xlm-roberta-base") and not is_xlmr_large(None)
    assert encoder_name({"phases": [{"kind": "pretrained", "model": "FacebookAI/xlm-roberta-large"}]}) == \
        "xlm-roberta-large"
    assert encoder_name({"phases": [{"kind": "pretrained", "model": "/m/e5", "random_init": True}]}) == \
        "e5 (random init)"
    assert encoder_name(None) == "unknown encoder"


def test_a_folder_without_xtreme_test_rows_says_so(tmp_path) -> None:
    root = tmp_path / "out"
    (root / "runs" / "r").mkdir(parents=True)
    rows = [make_row(run_id="r", config_hash="h", phase="zero_shot_eval", intermediate=[], intermediate_max_len=None,
                     target="syn_xnli", task="syn_xnli", language="xa", split="test", metric="accuracy", value=50.0,
                     n=10, seed=1)]
    (root / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = build_report(root, n_resamples=20).read_text(encoding="utf-8")
    assert "No test-split results of XTREME tasks" in page
