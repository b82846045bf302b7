"""The same data from the Hugging Face hub: ``load(task, split, language)`` and one mapper per hub schema.

:func:`load` resolves a task's :class:`~xstilts.tasks.HubSource` — the config (a fixed name, a
``{language}`` template, or a language → config table) and our split name → the hub's split
expression (``"dev_r1+dev_r2+dev_r3"`` is passed on as is: ``datasets`` concatenates) — calls
``datasets.load_dataset(path, config, split=...)`` and hands the rows to the mapper the source
names. Mappers are pure functions ``(rows, HubRows) -> list[Example]``, one per hub schema; they
turn ``ClassLabel`` integers into names through the dataset's own features and validate like the
file readers (errors name ``hf://path/config[split]``, the row id and the field).

Where the hub's data is not the same as XTREME's files:

* ``glue_mnli``/``glue_qqp``/``snli`` ids are the hub's row ``idx`` (files: ``pairID``/``id``);
  label ``-1`` (no label) gives ``None``, except in SNLI where it marks the no-consensus pairs,
  which are excluded and counted as in the file reader; in every other schema ``-1`` (or any
  label outside the task's label set) is an error;
* ``glue_qqp``: the hub's ClassLabel names are ``not_duplicate``/``duplicate``; the task (and the
  GLUE TSV) spells them ``0``/``1`` — the class index;
* ``xtreme_tatoeba``: the hub pairs are aligned (row i ↔ row i) rather than sorted, and its
  sentences keep their trailing newline, which is stripped here;
* ``xtreme_bucc``: the hub holds only the gold pairs (its ``source_lang``/``target_lang`` columns
  carry the BUCC sentence ids), not the full candidate pools, so mining on it is far easier than on
  the BUCC files;
* ``xtreme_xnli``/``xtreme_tydiqa``: one hub config holds every language; rows are filtered by the
  ``language`` column / the language name that prefixes the TyDiQA id.

Tests inject ``load_dataset`` (e.g. ``datasets.load_dataset("json", ...)`` or
``Dataset.from_list``) to run this module's real code path without network access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from xstilts.data.examples import (
    ClassificationExample, MultipleChoiceExample, QAExample, RetrievalExample, Sentence, TaggingExample,
)
from xstilts.data.readers._io import Examples, Where
from xstilts.data.readers.squad_json import make_answers
from xstilts.errors import DataError, UnknownNameError
from xstilts.registry import Registry
from xstilts.tasks import HubSource, Task

LoadDataset = Callable[..., Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class HubRows:
    """What a mapper needs besides the rows: where they come from, and how to read their labels."""

    source: str  # "hf://path/config[split]", used in error messages
    language: str
    split: str  # our split name (ids follow the file readers: "<split>-<lang>-<n>")
    labels: Sequence[str] | None  # the task's label set
    features: Mapping[str, Any] | None  # the dataset's features (ClassLabel names)

    def where(self, record: str) -> Where:
        return Where(self.source, record=record)

    def class_names(self, column: str) -> list[str] | None:
        """Names of the ``ClassLabel`` behind ``column`` (directly or in a sequence), if any."""
        feature = (self.features or {}).get(column)
        feature = getattr(feature, "feature", feature)  # Sequence/List(ClassLabel) → ClassLabel
        return list(feature.names) if hasattr(feature, "names") else None

    def label(self, value: Any, names: list[str] | None, where: Where, field: str, *,
              unlabelled: bool = False) -> str | None:
        """A label as its name: ClassLabel ints through ``names``, strings as is; in the task's label set.

        ``-1`` is the hub's "no label"; it gives ``None`` only where the schema uses it
        (``unlabelled=True``: GLUE's test splits, SNLI's no-consensus pairs). Anywhere else (a tag,
        an XTREME label) it is an unknown class index.
        """
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise where.error(f"expected a class index or name, found {value!r}", field)
        if isinstance(value, int):
            if value == -1 and unlabelled:
                return None
            if names is None or not 0 <= value < len(names):
                raise where.error(f"class index {value} has no name in the dataset's features", field)
            value = names[value]
        return where.label(value, self.labels, field)


Mapper = Callable[[Iterable[Mapping[str, Any]], HubRows], list]
MAPPERS: Registry[Mapper] = Registry("hub mapper")
mapper = MAPPERS.register  # decorator: ``@mapper("squad")``
get_mapper = MAPPERS.get


def resolve_config(source: HubSource, language: str) -> str | None:
    """The hub config for ``language``: fixed, a ``{language}`` template, or a per-language table."""
    config = source.config
    if config is None or isinstance(config, str):
        return None if config is None else config.format(language=language)
    if language not in config:
        raise UnknownNameError(f"language of hub dataset {source.path}", language, list(config))
    return config[language]


def resolve_split(task: Task, split: str, language: str) -> str:
    """The hub's split expression for our ``split``."""
    source = task.hub
    if split not in source.splits:
        raise UnknownNameError(f"hub split of {task.name} ({source.path})", split, list(source.splits))
    return source.splits[split].format(language=language)


def load(task: Task, split: str, language: str, *, load_dataset: LoadDataset | None = None) -> list:
    """Examples of ``task``/``split``/``language`` read from the hub.

    ``load_dataset`` defaults to :func:`datasets.load_dataset`; it is called as
    ``load_dataset(path, config, split=...)`` and must return an iterable of row dicts (a
    ``datasets.Dataset``, whose ``features`` give the ClassLabel names).
    """
    if task.hub is None:
        raise DataError(None, f"task {task.name!r} has no Hugging Face hub source")
    source = task.hub
    config = resolve_config(source, language)
    hub_split = resolve_split(task, split, language)
    if load_dataset is None:
        import datasets  # imported here: the file readers must not need it

        load_dataset = datasets.load_dataset
    dataset = load_dataset(source.path, config, split=hub_split)
    name = f"hf://{source.path}" + (f"/{config}" if config else "") + f"[{hub_split}]"
    rows = HubRows(name, language, split, task.labels, getattr(dataset, "features", None))
    return get_mapper(source.mapper)(dataset, rows)


# ---------------------------------------------------------------- sentence pairs


@mapper("anli")
def map_anli(rows, hub: HubRows) -> list[ClassificationExample]:
    names = hub.class_names("label")
    out = []
    for row in rows:
        where = hub.where(str(row.get("uid")))
        out.append(ClassificationExample(_text(row, "uid", where), _text(row, "premise", where), _text(row, "hypothesis", where),
                                         hub.label(row["label"], names, where, "label")))
    return out


@mapper("glue_mnli")
def map_glue_mnli(rows, hub: HubRows) -> list[ClassificationExample]:
    return _pairs(rows, hub, "premise", "hypothesis", names=hub.class_names("label"))


@mapper("glue_qqp")
def map_glue_qqp(rows, hub: HubRows) -> list[ClassificationExample]:
    # The task's labels are the GLUE TSV's 0/1, i.e. the ClassLabel index, not its names.
    n = len(hub.class_names("label") or ("0", "1"))
    return _pairs(rows, hub, "question1", "question2", names=[str(k) for k in range(n)])


@mapper("snli")
def map_snli(rows, hub: HubRows) -> Examples:
    """SNLI rows; label ``-1`` (no annotator majority) is excluded and counted, as in the file reader."""
    names = hub.class_names("label")
    out = Examples()
    for i, row in enumerate(rows):
        where = hub.where(f"row {i}")
        label = hub.label(row["label"], names, where, "label", unlabelled=True)
        if label is None:
            out.exclude("label -1 (no annotator majority)")
            continue
        out.append(ClassificationExample(f"{hub.split}-{i}", _text(row, "premise", where),
                                         _text(row, "hypothesis", where), label))
    out.log_exclusions(hub.source)
    return out


def _pairs(rows, hub: HubRows, a: str, b: str, *, names) -> list[ClassificationExample]:
    out = []
    for row in rows:
        where = hub.where(str(row["idx"]))
        out.append(ClassificationExample(str(row["idx"]), _text(row, a, where), _text(row, b, where),
                                         hub.label(row["label"], names, where, "label", unlabelled=True)))
    return out


@mapper("xtreme_xnli")
def map_xtreme_xnli(rows, hub: HubRows) -> list[ClassificationExample]:
    """google/xtreme ``XNLI``: every language in one config; keep ``hub.language``'s rows."""
    names = hub.class_names("gold_label")
    out = []
    for row in rows:
        if row["language"] != hub.language:
            continue
        ex_id = f"{hub.split}-{hub.language}-{len(out)}"
        where = hub.where(ex_id)
        # XTREME's xnli_preprocess renames the MT data's "contradictory"; do the same.
        label = "contradiction" if row["gold_label"] == "contradictory" else row["gold_label"]
        out.append(ClassificationExample(ex_id, _text(row, "sentence1", where), _text(row, "sentence2", where),
                                         hub.label(label, names, where, "gold_label")))
    return out


@mapper("xtreme_pawsx")
def map_xtreme_pawsx(rows, hub: HubRows) -> list[ClassificationExample]:
    out = []
    for i, row in enumerate(rows):
        ex_id = f"{hub.split}-{hub.language}-{i}"
        where = hub.where(ex_id)
        out.append(ClassificationExample(ex_id, _text(row, "sentence1", where), _text(row, "sentence2", where),
                                         hub.label(row["label"], hub.class_names("label"), where, "label")))
    return out


# ---------------------------------------------------------------- tagging


@mapper("xtreme_udpos")
def map_xtreme_udpos(rows, hub: HubRows) -> list[TaggingExample]:
    return _tagged(rows, hub, "pos_tags")


@mapper("xtreme_panx")
def map_xtreme_panx(rows, hub: HubRows) -> list[TaggingExample]:
    return _tagged(rows, hub, "ner_tags")


def _tagged(rows, hub: HubRows, column: str) -> list[TaggingExample]:
    names = hub.class_names(column)
    out = []
    for i, row in enumerate(rows):
        ex_id = f"{hub.split}-{hub.language}-{i}"
        where = hub.where(ex_id)
        tokens, tags = list(row["tokens"]), list(row[column])
        if len(tokens) != len(tags):
            raise where.error(f"{len(tokens)} tokens but {len(tags)} tags", column)
        # PAN-X's ``langs`` repeats the config's language per token: a cheap check of the config.
        wrong = {lang for lang in row.get("langs") or () if lang != hub.language}
        if wrong:
            raise where.error(f"token languages {sorted(wrong)}, expected {hub.language!r}", "langs")
        out.append(TaggingExample(ex_id, tuple(tokens),
                                  tuple(hub.label(t, names, where, column) for t in tags)))
    return out


# ---------------------------------------------------------------- question answering

# XTREME's tydiqa_preprocess: the language name that prefixes every TyDiQA id → ISO code.
TYDIQA_LANGUAGES = {"arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id",
                    "korean": "ko", "russian": "ru", "swahili": "sw", "telugu": "te"}


@mapper("squad")
def map_squad(rows, hub: HubRows) -> list[QAExample]:
    """SQuAD schema (also XQuAD, MLQA): an empty answer list means unanswerable (SQuAD v2)."""
    return [_qa(row, hub) for row in rows]


@mapper("xtreme_tydiqa")
def map_xtreme_tydiqa(rows, hub: HubRows) -> list[QAExample]:
    """google/xtreme ``tydiqa``: all languages in one config; keep rows whose id names ``hub.language``."""
    out = []
    for row in rows:
        prefix = str(row["id"]).split("-")[0]
        if prefix not in TYDIQA_LANGUAGES:
            raise hub.where(str(row["id"])).error(f"id prefix {prefix!r} is no TyDiQA language", "id")
        if TYDIQA_LANGUAGES[prefix] == hub.language:
            out.append(_qa(row, hub))
    return out


def _qa(row, hub: HubRows) -> QAExample:
    where = hub.where(str(row["id"]))
    context = _text(row, "context", where)
    answers = row["answers"]
    texts, starts = list(answers["text"]), list(answers["answer_start"])
    if len(texts) != len(starts):
        raise where.error(f"{len(texts)} answer texts but {len(starts)} answer_start values", "answers")
    found = make_answers(context, zip(texts, starts), where)
    return QAExample(str(row["id"]), _text(row, "question", where), context, found,
                     is_impossible=not found, title=row.get("title") or "")


# ---------------------------------------------------------------- multiple choice


@mapper("hellaswag")
def map_hellaswag(rows, hub: HubRows) -> list[MultipleChoiceExample]:
    out = []
    for row in rows:
        where = hub.where(str(row["ind"]))
        endings = tuple(row["endings"])
        out.append(MultipleChoiceExample(str(row["ind"]), _text(row, "ctx_a", where), _text(row, "ctx_b", where),
                                         endings, _choice_index(row["label"], len(endings), where, "label")))
    return out


@mapper("commonsenseqa")
def map_commonsenseqa(rows, hub: HubRows) -> list[MultipleChoiceExample]:
    out = []
    for row in rows:
        where = hub.where(str(row["id"]))
        keys, texts = list(row["choices"]["label"]), tuple(row["choices"]["text"])
        if keys != list("ABCDE") or len(texts) != 5:
            raise where.error(f"choice labels {keys}, expected A-E with 5 texts", "choices")
        key = row["answerKey"]
        if key and key not in keys:
            raise where.error(f"answerKey {key!r} is none of the choice labels A-E", "answerKey")
        out.append(MultipleChoiceExample(str(row["id"]), "", _text(row, "question", where), texts,
                                         keys.index(key) if key else None))
    return out


@mapper("cosmosqa")
def map_cosmosqa(rows, hub: HubRows) -> list[MultipleChoiceExample]:
    out = []
    for row in rows:
        where = hub.where(str(row["id"]))
        choices = tuple(_text(row, f"answer{k}", where) for k in range(4))
        out.append(MultipleChoiceExample(str(row["id"]), _text(row, "context", where), _text(row, "question", where),
                                         choices, _choice_index(row["label"], 4, where, "label")))
    return out


def _choice_index(value: Any, n: int, where: Where, field: str) -> int | None:
    """A 0-based answer index from an int or a digit string; ``""``/``-1``/``None`` (test) → ``None``."""
    if value is None or value == "" or value == -1:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise where.error(f"label {value!r} is not an index of the {n} choices", field)
    return value


# ---------------------------------------------------------------- retrieval


@mapper("xtreme_tatoeba")
def map_xtreme_tatoeba(rows, hub: HubRows) -> list[RetrievalExample]:
    """Aligned pairs (row i ↔ row i): sentence ids are row indices, gold pairs ``(i, i)``."""
    source, target = [], []
    for i, row in enumerate(rows):
        where = hub.where(f"row {i}")
        # The hub kept each sentence's line terminator; XTREME strips it when reading.
        source.append(Sentence(str(i), _text(row, "source_sentence", where).rstrip("\r\n")))
        target.append(Sentence(str(i), _text(row, "target_sentence", where).rstrip("\r\n")))
    gold = tuple((s.id, s.id) for s in source)
    return [RetrievalExample(f"{hub.split}-{hub.language}-en", tuple(source), tuple(target), gold)]


@mapper("xtreme_bucc")
def map_xtreme_bucc(rows, hub: HubRows) -> list[RetrievalExample]:
    """Gold pairs only; ``source_lang``/``target_lang`` hold the BUCC sentence ids."""
    source: dict[str, str] = {}
    target: dict[str, str] = {}
    gold = []
    for i, row in enumerate(rows):
        where = hub.where(f"row {i}")
        pair = []
        for pool, text_col, id_col in ((source, "source_sentence", "source_lang"),
                                       (target, "target_sentence", "target_lang")):
            sid, text = _text(row, id_col, where), _text(row, text_col, where)
            if pool.setdefault(sid, text) != text:
                raise where.error(f"id {sid!r} names two different sentences; expected BUCC sentence "
                                  "ids in this column", id_col)
            pair.append(sid)
        gold.append(tuple(pair))
    return [RetrievalExample(f"{hub.split}-{hub.language}-en",
                             tuple(Sentence(k, v) for k, v in source.items()),
                             tuple(Sentence(k, v) for k, v in target.items()), tuple(gold))]


def _text(row: Mapping[str, Any], column: str, where: Where) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        raise where.error(f"expected a string, found {value!r}", column)
    return value
