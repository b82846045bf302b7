"""Every task xstilts knows, one declaration each. To add a task, add one ``register(Task(...))`` here.

Paths are relative to the data root (``$XSTILTS_DATA_DIR``): ``xtreme/download`` is exactly what
google-research/xtreme's ``scripts/download_data.sh`` leaves in its ``download/`` folder,
``xtreme/labels/<task>/test-<lang>.<ext>`` is the label folder its ``evaluate.py`` reads, and
``english/`` holds the official English releases. Languages are XTREME's exact lists
(``evaluate.py:XTREME_TASK2LANGS``). Default lengths follow XTREME's baseline scripts
(``scripts/train_*.sh``: 128 for sentence tasks, 384/128 for QA, 512 for retrieval).
"""

from __future__ import annotations

from xstilts.tasks.registry import HubSource, Task, register

# XTREME's language lists, verbatim order (evaluate.py, XTREME_TASK2LANGS).
XTREME_LANGUAGES: dict[str, tuple[str, ...]] = {
    "pawsx": tuple("de,en,es,fr,ja,ko,zh".split(",")),
    "xnli": tuple("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh".split(",")),
    "panx": tuple(
        "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,"
        "it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu".split(",")
    ),
    "udpos": tuple(
        "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,"
        "nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh".split(",")
    ),
    "bucc2018": tuple("de,fr,ru,zh".split(",")),
    "tatoeba": tuple(
        "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,"
        "pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu".split(",")
    ),
    "xquad": tuple("en,es,de,el,ru,tr,ar,vi,th,zh,hi".split(",")),
    "mlqa": tuple("en,es,de,ar,hi,vi,zh".split(",")),
    "tydiqa": tuple("en,ar,bn,fi,id,ko,ru,sw,te".split(",")),
}
# XTREME's task groups (evaluate.py, XTREME_GROUP2TASK): used for the XTREME score.
XTREME_GROUPS: dict[str, tuple[str, ...]] = {
    "classification": ("pawsx", "xnli"),
    "tagging": ("udpos", "panx"),
    "qa": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("bucc2018", "tatoeba"),
}
# UD v2.5 treebanks without a dev split for these XTREME languages (test only, or train+test).
_UDPOS_NO_DEV = frozenset({"kk", "th", "tl", "yo"})
# Hub config names of google/xtreme's udpos.* configs.
_UDPOS_HUB_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "ko": "Korean",
    "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
# ISO 639-3 codes of google/xtreme's tatoeba.* configs (XTREME's lang3_dict).
_TATOEBA_ISO3 = {
    "ar": "ara", "he": "heb", "vi": "vie", "id": "ind", "jv": "jav", "tl": "tgl", "eu": "eus",
    "ml": "mal", "ta": "tam", "te": "tel", "af": "afr", "nl": "nld", "de": "deu", "el": "ell",
    "bn": "ben", "hi": "hin", "mr": "mar", "ur": "urd", "fa": "pes", "fr": "fra", "it": "ita",
    "pt": "por", "es": "spa", "bg": "bul", "ru": "rus", "ja": "jpn", "ka": "kat", "ko": "kor",
    "th": "tha", "sw": "swh", "zh": "cmn", "kk": "kaz", "tr": "tur", "et": "est", "fi": "fin",
    "hu": "hun",
}

NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
EN = ("en",)
QA_LENGTHS = dict(max_length=384, doc_stride=128, max_query_length=64, max_answer_length=30)
RETRIEVAL_OPTIONS = {
    # The paper's settings (Phang et al. ran XTREME through jiant; docs/retrieval.md has the sources).
    # Layer: XTREME's --specific_layer, 7 of 12 (base), 13 of 24 (large) (google-research/xtreme@838c13b
    # scripts/run_tatoeba.sh:28,41), = hidden_states[8] / [14] (resolve_layer adds 1); jiant's X-STILTs
    # runs use hidden_states[14] for BOTH tasks (nyu-mll/jiant scripts/benchmarks/xtreme/
    # xtreme_runconfig_writer.py:56,119-124), not run_bucc2018.sh's fixed 7 of the last 12 (= [20] of 24).
    # Resolved from the encoder's depth and always recorded with the result.
    "layer_by_depth": {12: 7, 24: 13},
    # Mean pooling, special tokens included, for both tasks: jiant's pooler_type (same file, :123),
    # and what XTREME's published BUCC numbers used (its --pool_type cls was ignored until
    # google-research/xtreme#72 was fixed, 287a7b7).
    "pooling": "mean",
}
# Target fine-tuning defaults: XTREME's scripts/train_{xnli,pawsx,udpos,panx,qa}.sh for
# xlm-roberta-large (effective batch 32 = per-device batch × gradient accumulation).
CLASSIFICATION_TRAINING = dict(learning_rate=2e-5, num_train_epochs=5.0, per_device_train_batch_size=2,
                               gradient_accumulation_steps=16)
TAGGING_TRAINING = dict(learning_rate=2e-5, num_train_epochs=10.0, per_device_train_batch_size=2,
                        gradient_accumulation_steps=16)
QA_TRAINING = dict(learning_rate=3e-5, num_train_epochs=3.0, per_device_train_batch_size=4,
                   gradient_accumulation_steps=8)
XTREME_REF = "Hu et al. 2020, XTREME (arXiv 2003.11080); google-research/xtreme@838c13b"
D = "xtreme/download"
L = "xtreme/labels"

# ---------------------------------------------------------------- English intermediate tasks

register(Task(
    name="anli", english_sizes={"train": 162865, "dev": 3200}, format="classification", role="intermediate",
    description="Adversarial NLI, rounds R1-R3 concatenated (premise/hypothesis, 3 labels)",
    splits={"train": EN, "dev": EN, "test": EN},
    reader="anli_jsonl",
    files={s: tuple(f"english/anli/anli_v1.0/R{r}/{s}.jsonl" for r in (1, 2, 3))
           for s in ("train", "dev", "test")},
    hub=HubSource("facebook/anli", mapper="anli",
                  splits={"train": "train_r1+train_r2+train_r3", "dev": "dev_r1+dev_r2+dev_r3",
                          "test": "test_r1+test_r2+test_r3"}),
    labels=NLI_LABELS, metric="accuracy", license="CC BY-NC 4.0",
    reference="Nie et al. 2020 (arXiv 1910.14599)",
))
register(Task(
    name="mnli", english_sizes={"train": 392702, "dev": 9815}, format="classification", role="intermediate",
    description="MultiNLI (GLUE TSV layout); dev = dev_matched",
    splits={"train": EN, "dev": EN},
    reader="glue_mnli_tsv",
    files={"train": "english/glue/MNLI/train.tsv", "dev": "english/glue/MNLI/dev_matched.tsv"},
    hub=HubSource("nyu-mll/glue", config="mnli", mapper="glue_mnli",
                  splits={"train": "train", "dev": "validation_matched"}),
    labels=NLI_LABELS, metric="accuracy", license="OANC/CC BY-SA 3.0 mix (see MultiNLI)",
    reference="Williams et al. 2018",
))
register(Task(
    name="snli", format="classification", role="intermediate",
    description="SNLI 1.0 (jsonl release); only used inside ANLI+",
    splits={"train": EN, "dev": EN, "test": EN},
    reader="snli_jsonl",
    files={s: f"english/snli/snli_1.0/snli_1.0_{s}.jsonl" for s in ("train", "dev", "test")},
    hub=HubSource("stanfordnlp/snli", mapper="snli",
                  splits={"train": "train", "dev": "validation", "test": "test"}),
    labels=NLI_LABELS, metric="accuracy", license="CC BY-SA 4.0",
    reference="Bowman et al. 2015",
))
register(Task(
    name="anli_plus", format="classification", role="intermediate",
    description="ANLI+ of Phang et al. 2020: ANLI R1-R3 + MNLI + SNLI training data; dev = ANLI dev",
    splits={"train": EN, "dev": EN},
    components=("anli", "mnli", "snli"),
    labels=NLI_LABELS, metric="accuracy",
    reference="Phang et al. 2020 (arXiv 2005.13013), Nie et al. 2020",
))
register(Task(
    name="qqp", english_sizes={"train": 363846, "dev": 40430}, format="classification", role="intermediate",
    description="Quora Question Pairs (GLUE TSV layout), paraphrase yes/no",
    splits={"train": EN, "dev": EN},
    reader="glue_qqp_tsv",
    files={"train": "english/glue/QQP/train.tsv", "dev": "english/glue/QQP/dev.tsv"},
    hub=HubSource("nyu-mll/glue", config="qqp", mapper="glue_qqp",
                  splits={"train": "train", "dev": "validation"}),
    labels=("0", "1"), metric="accuracy", license="Quora terms (non-commercial)",
    reference="Iyer et al. 2017 / GLUE",
))
register(Task(
    name="squad_v1", english_sizes={"train": 87599, "dev": 10570}, format="span_qa", role="intermediate",
    description="SQuAD v1.1 extractive QA",
    splits={"train": EN, "dev": EN},
    reader="squad_json",
    files={"train": "english/squad/train-v1.1.json", "dev": "english/squad/dev-v1.1.json"},
    hub=HubSource("rajpurkar/squad", mapper="squad", splits={"train": "train", "dev": "validation"}),
    metric="squad", license="CC BY-SA 4.0", reference="Rajpurkar et al. 2016",
    **QA_LENGTHS,
))
register(Task(
    name="squad_v2", english_sizes={"train": 130319, "dev": 11873}, format="span_qa", role="intermediate",
    description="SQuAD v2.0 extractive QA with unanswerable questions (null-score threshold)",
    splits={"train": EN, "dev": EN},
    reader="squad_json",
    files={"train": "english/squad/train-v2.0.json", "dev": "english/squad/dev-v2.0.json"},
    hub=HubSource("rajpurkar/squad_v2", mapper="squad",
                  splits={"train": "train", "dev": "validation"}),
    metric="squad_v2", options={"version_2_with_negative": True, "null_score_diff_threshold": 0.0},
    license="CC BY-SA 4.0", reference="Rajpurkar et al. 2018",
    **QA_LENGTHS,
))
register(Task(
    name="hellaswag", english_sizes={"train": 39905, "dev": 10042}, format="multiple_choice", role="intermediate",
    description="HellaSwag sentence completion, 4 endings (dev = the official val file)",
    splits={"train": EN, "dev": EN},
    reader="hellaswag_jsonl",
    files={"train": "english/hellaswag/hellaswag_train.jsonl",
           "dev": "english/hellaswag/hellaswag_val.jsonl"},
    hub=HubSource("Rowan/hellaswag", mapper="hellaswag",
                  splits={"train": "train", "dev": "validation"}),
    metric="accuracy", license="MIT", reference="Zellers et al. 2019", max_length=128,
))
register(Task(
    name="commonsenseqa", english_sizes={"train": 9741, "dev": 1221}, format="multiple_choice", role="intermediate",
    description="CommonsenseQA (random split), 5 choices",
    splits={"train": EN, "dev": EN},
    reader="commonsenseqa_jsonl",
    files={"train": "english/commonsenseqa/train_rand_split.jsonl",
           "dev": "english/commonsenseqa/dev_rand_split.jsonl"},
    hub=HubSource("tau/commonsense_qa", mapper="commonsenseqa",
                  splits={"train": "train", "dev": "validation"}),
    metric="accuracy", license="MIT", reference="Talmor et al. 2019", max_length=64,
))
register(Task(
    name="cosmosqa", english_sizes={"train": 25262, "dev": 2985}, format="multiple_choice", role="intermediate",
    description="Cosmos QA reading comprehension, 4 choices (official CSV release)",
    splits={"train": EN, "dev": EN},
    reader="cosmosqa_csv",
    files={"train": "english/cosmosqa/train.csv", "dev": "english/cosmosqa/valid.csv"},
    hub=HubSource("allenai/cosmos_qa", mapper="cosmosqa",
                  splits={"train": "train", "dev": "validation"}),
    metric="accuracy", license="CC BY 4.0", reference="Huang et al. 2019", max_length=256,
))
register(Task(
    name="ccg", format="tagging", role="intermediate",
    description="CCG supertagging from CCGbank (licensed, user-supplied) in the C&C '.stagged' "
                "format: one sentence per line, tokens 'word|POS|supertag'. Splits: WSJ 02-21 / 00 / 23",
    splits={"train": EN, "dev": EN, "test": EN},
    reader="ccg_stagged",
    files={"train": "english/ccg/wsj02-21.stagged", "dev": "english/ccg/wsj00.stagged",
           "test": "english/ccg/wsj23.stagged"},
    labels=None,  # the supertag vocabulary is read from the training data
    metric="tagging_accuracy", license="LDC (CCGbank, LDC2005T13)",
    reference="Hockenmaier & Steedman 2007",
))

# ---------------------------------------------------------------- XTREME targets

register(Task(
    name="xnli", english_sizes={"train": 392702}, format="classification", role="target",
    description="XNLI; English training data = MNLI (XTREME's train-en.tsv)",
    splits={"train": EN, "dev": XTREME_LANGUAGES["xnli"], "test": XTREME_LANGUAGES["xnli"]},
    reader="xtreme_pair_tsv",
    files={"train": f"{D}/xnli/train-en.tsv", "dev": f"{D}/xnli/dev-{{language}}.tsv",
           "test": f"{D}/xnli/test-{{language}}.tsv"},
    gold_files={"test": f"{L}/xnli/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config="XNLI", mapper="xtreme_xnli",
                  splits={"dev": "validation", "test": "test"}),
    labels=NLI_LABELS, metric="accuracy", license="CC BY-NC 4.0", reference=XTREME_REF,
    training=CLASSIFICATION_TRAINING | {"learning_rate": 3e-5},
))
register(Task(
    name="pawsx", english_sizes={"train": 49401, "dev": 2000}, format="classification", role="target",
    description="PAWS-X paraphrase identification",
    splits={"train": EN, "dev": XTREME_LANGUAGES["pawsx"], "test": XTREME_LANGUAGES["pawsx"]},
    reader="xtreme_pair_tsv",
    files={"train": f"{D}/pawsx/train-en.tsv", "dev": f"{D}/pawsx/dev-{{language}}.tsv",
           "test": f"{D}/pawsx/test-{{language}}.tsv"},
    gold_files={"test": f"{L}/pawsx/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config="PAWS-X.{language}", mapper="xtreme_pawsx",
                  splits={"train": "train", "dev": "validation", "test": "test"}),
    labels=("0", "1"), metric="accuracy", license="PAWS terms", reference=XTREME_REF,
    training=CLASSIFICATION_TRAINING,
))
register(Task(
    name="udpos", format="tagging", role="target",
    description="Universal Dependencies v2.5 POS tagging (XTREME's conversion)",
    splits={"train": EN,
            "dev": tuple(x for x in XTREME_LANGUAGES["udpos"] if x not in _UDPOS_NO_DEV),
            "test": XTREME_LANGUAGES["udpos"]},
    reader="xtreme_conll_tsv",
    files={s: f"{D}/udpos/{s}-{{language}}.tsv" for s in ("train", "dev", "test")},
    gold_files={"test": f"{L}/udpos/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config={k: f"udpos.{v}" for k, v in _UDPOS_HUB_NAMES.items()},
                  mapper="xtreme_udpos",
                  splits={"train": "train", "dev": "validation", "test": "test"}),
    labels=UPOS_TAGS, metric="seqeval", license="per treebank (UD v2.5)", reference=XTREME_REF,
    training=TAGGING_TRAINING,
))
register(Task(
    name="panx", english_sizes={"train": 20000, "dev": 10000}, format="tagging", role="target",
    description="PAN-X / WikiANN NER (Rahimi et al. splits), IOB2",
    splits={"train": EN, "dev": XTREME_LANGUAGES["panx"], "test": XTREME_LANGUAGES["panx"]},
    reader="xtreme_conll_tsv",
    files={s: f"{D}/panx/{s}-{{language}}.tsv" for s in ("train", "dev", "test")},
    gold_files={"test": f"{L}/panx/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config="PAN-X.{language}", mapper="xtreme_panx",
                  splits={"train": "train", "dev": "validation", "test": "test"}),
    labels=PANX_TAGS, metric="seqeval", license="ODC-BY (WikiANN)", reference=XTREME_REF,
    training=TAGGING_TRAINING,
))
register(Task(
    name="xquad", english_sizes={"train": 87599, "dev": 10570}, format="span_qa", role="target",
    description="XQuAD; English training data = SQuAD v1.1",
    splits={"train": EN, "dev": EN, "test": XTREME_LANGUAGES["xquad"]},
    reader="squad_json",
    files={"train": f"{D}/squad/train-v1.1.json", "dev": f"{D}/squad/dev-v1.1.json",
           "test": f"{D}/xquad/xquad.{{language}}.json"},
    gold_files={"test": f"{L}/xquad/test-{{language}}.json"},
    hub=HubSource("google/xtreme", config="XQuAD.{language}", mapper="squad",
                  splits={"test": "validation"}),
    metric="squad", license="CC BY-SA 4.0", reference=XTREME_REF, **QA_LENGTHS,
    training=QA_TRAINING,
))
register(Task(
    name="mlqa", english_sizes={"train": 87599}, format="span_qa", role="target",
    description="MLQA (same-language context and question); English training data = SQuAD v1.1",
    splits={"train": EN, "dev": XTREME_LANGUAGES["mlqa"], "test": XTREME_LANGUAGES["mlqa"]},
    reader="squad_json",
    files={"train": f"{D}/squad/train-v1.1.json",
           "dev": f"{D}/mlqa/MLQA_V1/dev/dev-context-{{language}}-question-{{language}}.json",
           "test": f"{D}/mlqa/MLQA_V1/test/test-context-{{language}}-question-{{language}}.json"},
    gold_files={"test": f"{L}/mlqa/test-{{language}}.json"},
    hub=HubSource("google/xtreme", config="MLQA.{language}.{language}", mapper="squad",
                  splits={"dev": "validation", "test": "test"}),
    metric="mlqa", license="CC BY-SA 3.0", reference=XTREME_REF, **QA_LENGTHS,
    training=QA_TRAINING,
))
register(Task(
    name="tydiqa", english_sizes={"train": 87599}, format="span_qa", role="target",
    description="TyDiQA-GoldP (XTREME uses the official dev set as test); English training data = SQuAD v1.1",
    splits={"train": EN, "test": XTREME_LANGUAGES["tydiqa"]},
    reader="squad_json",
    files={"train": f"{D}/squad/train-v1.1.json",
           "test": f"{D}/tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{{language}}.dev.json"},
    gold_files={"test": f"{L}/tydiqa/test-{{language}}.json"},
    hub=HubSource("google/xtreme", config="tydiqa", mapper="xtreme_tydiqa",
                  splits={"test": "validation"}),
    metric="squad", license="Apache-2.0", reference=XTREME_REF, **QA_LENGTHS,
    training=QA_TRAINING,
))
register(Task(
    name="bucc2018", format="retrieval", role="target",
    description="BUCC 2018 parallel sentence mining (margin-based, F1-optimal threshold on gold)",
    splits={"dev": XTREME_LANGUAGES["bucc2018"], "test": XTREME_LANGUAGES["bucc2018"]},
    reader="bucc",
    files={s: f"{D}/bucc2018/{{language}}-en.{s}" for s in ("dev", "test")},
    gold_files={"test": f"{L}/bucc2018/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config="bucc18.{language}", mapper="xtreme_bucc",
                  splits={"dev": "validation", "test": "test"}),
    metric="bucc2018", max_length=512,
    # LASER/XTREME margin mining (utils_retrieve.py:131-133 mine_bitext defaults: k 4, ratio margin).
    # version 2: pooling mean, was cls (results of version 1 keep their own run ids).
    options=RETRIEVAL_OPTIONS | {"k": 4, "margin": "ratio"}, version=2,
    license="BUCC 2018 shared task terms", reference=XTREME_REF,
))
register(Task(
    name="tatoeba", format="retrieval", role="target",
    description="Tatoeba bitext retrieval (cosine nearest neighbour, English side sorted)",
    splits={"test": XTREME_LANGUAGES["tatoeba"]},
    reader="tatoeba",
    files={"test": f"{D}/tatoeba/{{language}}-en"},
    gold_files={"test": f"{L}/tatoeba/test-{{language}}.tsv"},
    hub=HubSource("google/xtreme", config={k: f"tatoeba.{v}" for k, v in _TATOEBA_ISO3.items()},
                  mapper="xtreme_tatoeba", splits={"test": "validation"}),
    metric="accuracy", max_length=512, options=RETRIEVAL_OPTIONS,
    license="CC BY 2.0 FR", reference=XTREME_REF,
))

# ---------------------------------------------------------------- pretraining / MLM baseline

register(Task(
    name="mlm", format="mlm", role="pretraining",
    description="Masked language modelling on raw text, one document or sentence per line "
                "(pretraining and the continued-MLM baseline)",
    splits={"train": tuple(sorted(set().union(*XTREME_LANGUAGES.values()))),
            "dev": tuple(sorted(set().union(*XTREME_LANGUAGES.values())))},
    reader="text_lines",
    files={s: f"corpora/{s}.{{language}}.txt" for s in ("train", "dev")},
    metric="perplexity", max_length=128, options={"mlm_probability": 0.15},
))

# ---- synthetic world (xstilts world)
# Tasks of the seeded synthetic world that `xstilts world --out DIR` writes (docs/world.md): the
# same readers, layouts and metrics as the real tasks, so XSTILTS_DATA_DIR=DIR runs the whole study
# offline. Languages: en (English-like base) and the generated xa (English order), xb (verb-final,
# postpositions), xc (noun-adjective, no articles). Lengths and training defaults suit tiny models.

SYN_LANGUAGES = ("en", "xa", "xb", "xc")
SYN_RETRIEVAL_LANGUAGES = ("xa", "xb", "xc")
# XTREME's relative depth, 7 of 12, for any depth up to 12 (resolve_layer adds 1: hidden_states[3] of a
# 4-layer encoder). The last layer of an MLM serves its output; at every measured budget the tiny
# encoder's syn_tatoeba is lowest there (docs/world.md).
SYN_RETRIEVAL_OPTIONS = {"layer_by_depth": {n: 7 * n // 12 for n in range(1, 13)}, "pooling": "mean"}
# A small stride and question budget keep windows valid down to max_length 64 (the length study)
# and cheap on 1,800-word documents; questions are at most ~20 subwords, answers one word.
SYN_QA_LENGTHS = dict(max_length=256, doc_stride=32, max_query_length=24, max_answer_length=10)
SYN_TRAINING = dict(learning_rate=2e-4, num_train_epochs=3.0, per_device_train_batch_size=32,
                    gradient_accumulation_steps=1, warmup_ratio=0.1)
SYN_REF = "xstilts synthetic world (docs/world.md)"
_SYN_SPLITS = {"train": EN, "dev": SYN_LANGUAGES, "test": SYN_LANGUAGES}

register(Task(
    name="syn_nli", format="classification", role="intermediate",
    description="Synthetic NLI over a few world facts (ANLI jsonl layout)",
    splits={"train": EN, "dev": EN}, reader="anli_jsonl",
    files={s: f"english/syn_nli/{s}.jsonl" for s in ("train", "dev")},
    labels=NLI_LABELS, metric="accuracy", max_length=128, reference=SYN_REF,
))
register(Task(
    name="syn_story", format="multiple_choice", role="intermediate",
    description="Synthetic story continuation, 4 endings, one consistent with the story (HellaSwag jsonl)",
    splits={"train": EN, "dev": EN}, reader="hellaswag_jsonl",
    files={"train": "english/syn_story/syn_story_train.jsonl", "dev": "english/syn_story/syn_story_val.jsonl"},
    metric="accuracy", max_length=128, reference=SYN_REF,
))
register(Task(
    name="syn_longqa", format="span_qa", role="intermediate",
    description="Synthetic extractive QA over documents of 10 to ~1,800 words; questions: where does "
                "X live / what does X work as / who gave a Y to Z (SQuAD v1.1 JSON)",
    splits={"train": EN, "dev": EN}, reader="squad_json",
    files={s: f"english/syn_longqa/{s}-v1.1.json" for s in ("train", "dev")},
    metric="squad", reference=SYN_REF, **SYN_QA_LENGTHS,
))
register(Task(
    name="syn_tags", format="tagging", role="intermediate",
    description="Synthetic CCG supertagging of the world's grammar (C&C .stagged layout)",
    splits={"train": EN, "dev": EN}, reader="ccg_stagged",
    files={s: f"english/syn_tags/{s}.stagged" for s in ("train", "dev")},
    labels=None, metric="tagging_accuracy", max_length=64, reference=SYN_REF,
))
register(Task(
    name="syn_xnli", format="classification", role="target",
    description="Synthetic XNLI: the NLI labels over 1-3 facts, dev/test parallel in every language",
    splits=_SYN_SPLITS, reader="xtreme_pair_tsv",
    files={"train": f"{D}/syn_xnli/train-en.tsv", "dev": f"{D}/syn_xnli/dev-{{language}}.tsv",
           "test": f"{D}/syn_xnli/test-{{language}}.tsv"},
    gold_files={"test": f"{L}/syn_xnli/test-{{language}}.tsv"},
    labels=NLI_LABELS, metric="accuracy", max_length=128, reference=SYN_REF, training=SYN_TRAINING,
))
register(Task(
    name="syn_qa", format="span_qa", role="target",
    description="Synthetic XQuAD over documents of 10 to ~1,800 words; questions: how old is X / what "
                "colour Y does X have / what did X give to Z (disjoint from syn_longqa's)",
    splits=_SYN_SPLITS, reader="squad_json",
    files={"train": f"{D}/syn_qa/train-en.json", "dev": f"{D}/syn_qa/dev-{{language}}.json",
           "test": f"{D}/syn_qa/test-{{language}}.json"},
    gold_files={"test": f"{L}/syn_qa/test-{{language}}.json"},
    metric="squad", reference=SYN_REF, training=SYN_TRAINING, **SYN_QA_LENGTHS,
))
register(Task(
    name="syn_pos", format="tagging", role="target",
    description="Synthetic UD-POS: UPOS tags of the world's sentences in every language",
    splits=_SYN_SPLITS, reader="xtreme_conll_tsv",
    files={s: f"{D}/syn_pos/{s}-{{language}}.tsv" for s in ("train", "dev", "test")},
    gold_files={"test": f"{L}/syn_pos/test-{{language}}.tsv"},
    labels=UPOS_TAGS, metric="seqeval", max_length=64, reference=SYN_REF, training=SYN_TRAINING,
))
register(Task(
    name="syn_tatoeba", format="retrieval", role="target",
    description="Synthetic Tatoeba: 1:1 translations, English side sorted",
    splits={"test": SYN_RETRIEVAL_LANGUAGES}, reader="tatoeba",
    files={"test": f"{D}/syn_tatoeba/{{language}}-en"},
    gold_files={"test": f"{L}/syn_tatoeba/test-{{language}}.tsv"},
    metric="accuracy", max_length=64, options=SYN_RETRIEVAL_OPTIONS, reference=SYN_REF,
))
register(Task(
    name="syn_mlm", format="mlm", role="pretraining",
    description="Monolingual, non-parallel corpora of the synthetic world, one document per line",
    splits={"train": SYN_LANGUAGES, "dev": SYN_LANGUAGES}, reader="text_lines",
    files={s: f"corpora/{s}.{{language}}.txt" for s in ("train", "dev")},
    metric="perplexity", max_length=128, options={"mlm_probability": 0.15}, reference=SYN_REF,
))
