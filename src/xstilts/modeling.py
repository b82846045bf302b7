"""One shared encoder (any HF ``AutoModel``), a dict of format heads, and a task → head map.

All languages of a target share its head; a target head may start from an intermediate task's
head (``head_init``), e.g. XNLI from ANLI/MNLI, when formats and label sets agree, and an MLM head
may start from a checkpoint's own (:func:`checkpoint_lm_head`: XLM-R's ``lm_head``). Saved with
safetensors only: the encoder through ``save_pretrained`` and the heads as one safetensors file
plus a JSON spec, so ``MultiTaskModel.load`` needs no pickle.
"""

from __future__ import annotations

import hashlib
import json
import inspect
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from xstilts.errors import ConfigError
from xstilts.formats import get_format
from xstilts.formats.base import MODEL_INPUTS


@dataclass(frozen=True)
class HeadSpec:
    """What is needed to rebuild a head: its format, constructor arguments and label list."""

    format: str
    kwargs: dict = field(default_factory=dict)
    labels: tuple[str, ...] | None = None


def head_spec_for(task, labels: tuple[str, ...] | None = None, vocab_size: int | None = None,
                  dropout: float | None = None) -> HeadSpec:
    """The head a task needs; ``labels`` overrides the registry's (e.g. CCG's data-derived tags).
    ``dropout``: the phase's ``training.dropout`` where set — it then applies to the head's dropout
    too (saved with the spec, so a reloaded head keeps it); None keeps the head's default."""
    labels = tuple(labels) if labels is not None else (tuple(task.labels) if task.labels else None)
    # The format's Head says what it needs by its constructor's parameters.
    needs = inspect.signature(get_format(task.format).Head).parameters
    kwargs = {}
    if dropout is not None and "dropout" in needs:
        kwargs["dropout"] = dropout
    if "vocab_size" in needs:
        if not vocab_size:
            raise ConfigError(f"task {task.name}: a {task.format} head needs the vocabulary size")
        kwargs["vocab_size"] = vocab_size
    if "num_labels" in needs:
        if not labels:
            raise ConfigError(f"task {task.name}: a {task.format} head needs a label list")
        kwargs["num_labels"] = len(labels)
    return HeadSpec(task.format, kwargs, labels)


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, specs: dict[str, HeadSpec] | None = None):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict()
        self.specs: dict[str, HeadSpec] = {}
        for name, spec in (specs or {}).items():
            self.add_head(name, spec)

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, revision: str | None = None, dropout: float | None = None,
                        random_init_seed: int | None = None) -> "MultiTaskModel":
        """The encoder of a hub id or directory; with ``random_init_seed``, its architecture with
        freshly initialised weights (the not-pretrained control of the same shape)."""
        import torch
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(name_or_path, revision=revision)
        if dropout is not None:
            for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
                if hasattr(config, attr):
                    setattr(config, attr, dropout)
        if random_init_seed is not None:
            torch.manual_seed(random_init_seed)
            load = lambda **kw: AutoModel.from_config(config, **kw)  # noqa: E731
        else:
            load = lambda **kw: _encoder_of(name_or_path, revision=revision, config=config, **kw)  # noqa: E731
        # add_pooling_layer=False where supported: we never use the pooler (heads own their layers).
        try:
            encoder = load(add_pooling_layer=False)
        except TypeError:
            encoder = load()
        return cls(encoder)

    def add_head(self, name: str, spec: HeadSpec, init_from: str | None = None,
                 state: dict[str, torch.Tensor] | None = None) -> None:
        """Add head ``name``; ``init_from`` copies the weights of an existing, compatible head,
        ``state`` loads given weights (every tensor of the head but a vocabulary projection it ties)."""
        head = get_format(spec.format).Head(self.hidden_size, **spec.kwargs)
        if state is not None:
            _load_head_state(head, state, name, tied=self._ties(head))
        if init_from is not None:
            source = self.specs.get(init_from)
            if source is None:
                raise ConfigError(f"head_init {init_from!r}: no such head (have {sorted(self.specs)})")
            shape = lambda k: {n: v for n, v in k.items() if n != "dropout"}  # noqa: E731
            if source.format != spec.format or shape(source.kwargs) != shape(spec.kwargs) or source.labels != spec.labels:
                raise ConfigError(
                    f"head_init {init_from!r} → {name!r}: incompatible heads "
                    f"({source.format} {source.labels} vs {spec.format} {spec.labels})"
                )
            head.load_state_dict(self.heads[init_from].state_dict())
        if self._ties(head):
            head.tie(self.encoder.get_input_embeddings())
        self.heads[name] = head
        self.specs[name] = spec

    def head_state(self, name: str) -> dict[str, torch.Tensor]:
        """Head ``name``'s own tensors (a vocabulary projection tied to the input embeddings left out)."""
        tied = self._ties(self.heads[name])
        return {k: v for k, v in self.heads[name].state_dict().items() if not (tied and k == "decoder.weight")}

    def _ties(self, head: nn.Module) -> bool:
        """Whether ``head``'s vocabulary projection is the encoder's input embeddings (as in HF's
        ``*ForMaskedLM`` when the config says ``tie_word_embeddings``)."""
        return hasattr(head, "tie") and bool(getattr(self.encoder.config, "tie_word_embeddings", False))

    def rename_head(self, old: str, new: str) -> None:
        """A shared target model trained under one task's name serves another (same data, same head)."""
        self.heads[new], self.specs[new] = self.heads.pop(old), self.specs.pop(old)

    def encode(self, batch: dict) -> torch.Tensor:
        """Last hidden states; (batch, choices, length) inputs are flattened for multiple choice."""
        inputs = {k: batch[k] for k in MODEL_INPUTS if k in batch}
        if inputs["input_ids"].dim() == 3:
            inputs = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items()}
        return self.encoder(**inputs).last_hidden_state

    def forward(self, head: str, batch: dict) -> dict:
        return self.heads[head](self.encode(batch), batch)

    def loss(self, head: str, outputs: dict, batch: dict) -> torch.Tensor:
        return get_format(self.specs[head].format).loss(outputs, batch)

    # ---------------------------------------------------------------- persistence (safetensors)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory / "encoder", safe_serialization=True)
        state = {f"{name}.{k}": v.detach().cpu().contiguous() for name, k, v in self._head_tensors()}
        if state:
            save_file(state, str(directory / "heads.safetensors"))
        specs = {name: asdict(spec) for name, spec in self.specs.items()}
        (directory / "heads.json").write_text(json.dumps(specs, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> "MultiTaskModel":
        from transformers import AutoModel

        directory = Path(directory)
        try:
            encoder = AutoModel.from_pretrained(directory / "encoder", add_pooling_layer=False)
        except TypeError:
            encoder = AutoModel.from_pretrained(directory / "encoder")
        specs = json.loads((directory / "heads.json").read_text())
        model = cls(encoder, {n: HeadSpec(s["format"], s["kwargs"], tuple(s["labels"]) if s["labels"] else None) for n, s in specs.items()})
        if specs:
            state = load_file(str(directory / "heads.safetensors"))
            tied = {f"{name}.{k}" for name, k, _ in model._head_tensors(tied=True)}
            missing = sorted({f"{n}.{k}" for n, k, _ in model._head_tensors()} - set(state))
            unexpected = sorted(set(state) - {f"{n}.{k}" for n, h in model.heads.items() for k in h.state_dict()})
            if missing or unexpected or tied & set(state):
                raise ValueError(f"{directory / 'heads.safetensors'}: does not match heads.json "
                                 f"(missing {missing}, unexpected {unexpected + sorted(tied & set(state))})")
            for name, head in model.heads.items():
                prefix = f"{name}."
                head.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, strict=False)
        return model

    def _head_tensors(self, tied: bool = False):
        """(head, key, tensor) of every head tensor that is not (``tied``: that is) an encoder tensor."""
        shared = {p.data_ptr() for p in self.encoder.parameters()}
        for name, head in self.heads.items():
            for key, value in head.state_dict().items():
                if (value.data_ptr() in shared) == tied:
                    yield name, key, value


# ------------------------------------------------------------------ a checkpoint's own MLM head

# Where HF masked-LM checkpoints keep their MLM head, and the names of :class:`xstilts.formats.mlm.Head`
# (dense → GELU → LayerNorm → vocabulary) for each tensor: RoBERTa/XLM-R (``XLMRobertaForMaskedLM``)
# and BERT (``BertForMaskedLM``/``BertForPreTraining``), the two layouts jiant continues too
# (jiant/proj/main/modeling/model_setup.py, ``load_lm_heads_from_transformers_weights``). The bias
# of the vocabulary projection is a tensor of its own in both (``decoder.bias`` is tied to it).
LM_HEAD_LAYOUTS: dict[str, dict[str, str]] = {
    "lm_head.": {"dense.weight": "dense.weight", "dense.bias": "dense.bias",
                 "layer_norm.weight": "layer_norm.weight", "layer_norm.bias": "layer_norm.bias",
                 "bias": "decoder.bias", "decoder.weight": "decoder.weight"},
    "cls.predictions.": {"transform.dense.weight": "dense.weight", "transform.dense.bias": "dense.bias",
                         "transform.LayerNorm.weight": "layer_norm.weight", "transform.LayerNorm.bias": "layer_norm.bias",
                         "bias": "decoder.bias", "decoder.weight": "decoder.weight"},
}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _encoder_of(name_or_path: str, **kwargs) -> nn.Module:
    """``AutoModel.from_pretrained`` of a checkpoint, saying only what matters: weights the encoder
    lacks (left at random init) or could not take; the heads of a masked-LM checkpoint (XLM-R's
    ``lm_head``, read on their own by :func:`checkpoint_lm_head`) are expected to stay behind."""
    import logging as pylogging

    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        encoder, info = AutoModel.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    finally:
        hf_logging.set_verbosity(level)
    left = sorted(k for k in info.get("unexpected_keys", ()) if not k.startswith(tuple(LM_HEAD_LAYOUTS)))
    problems = {"missing (left at random init)": sorted(info.get("missing_keys", ())),
                "not used": left, "of another shape": sorted(map(str, info.get("mismatched_keys", ())))}
    for what, keys in problems.items():
        if keys:
            pylogging.getLogger(__name__).warning(f"{name_or_path}: encoder weights {what}: {', '.join(keys[:10])}"
                                                  + (f" and {len(keys) - 10} more" if len(keys) > 10 else ""))
    return encoder


def checkpoint_lm_head(name_or_path: str, *, revision: str | None = None) -> dict[str, torch.Tensor]:
    """The MLM head of an HF masked-LM checkpoint (hub id or directory), under the names of
    :class:`xstilts.formats.mlm.Head`, read from its weight files without loading the model (only
    the shards that hold it). A checkpoint without one — a bare encoder (``XLMRobertaModel``), a
    sentence-embedding model — is a :class:`ConfigError`: an MLM head is never made up silently."""
    from transformers.utils import cached_file

    found = None
    for filename in _WEIGHT_FILES:
        try:
            found = cached_file(name_or_path, filename, revision=revision, _raise_exceptions_for_missing_entries=False,
                                _raise_exceptions_for_connection_errors=False)
        except (OSError, ValueError) as err:  # not a directory, and not a hub id either
            raise ConfigError(f"{name_or_path}: cannot read its weights ({str(err).splitlines()[0]})") from None
        if found:
            break
    if not found:
        raise ConfigError(f"{name_or_path}: no weights ({', '.join(_WEIGHT_FILES)}) to read an MLM head from "
                          f"(not a model directory, or a hub id not in the Hugging Face cache)")
    found = Path(found)
    tensors = _lm_head_tensors(name_or_path, revision, found)
    for prefix, names in LM_HEAD_LAYOUTS.items():
        mine = {names[k[len(prefix):]]: v for k, v in tensors.items()
                if k.startswith(prefix) and k[len(prefix):] in names}
        if mine:
            if "decoder.bias" not in mine and f"{prefix}decoder.bias" in tensors:  # older files keep the tied copy
                mine["decoder.bias"] = tensors[f"{prefix}decoder.bias"]
            return mine
    raise ConfigError(f"{name_or_path}: the checkpoint has no MLM head ({' or '.join(f'{p}*' for p in LM_HEAD_LAYOUTS)} "
                      f"in {found.name}): give a masked-LM checkpoint (e.g. XLMRobertaForMaskedLM), or set "
                      f"mlm.head: fresh to start a new head on purpose")


def _lm_head_tensors(name_or_path: str, revision: str | None, path: Path) -> dict[str, torch.Tensor]:
    """Every tensor under an MLM head prefix in the weight file ``path`` (or the shards its index names)."""
    from safetensors import safe_open
    from transformers.utils import cached_file

    wanted = lambda key: key.startswith(tuple(LM_HEAD_LAYOUTS))  # noqa: E731
    if path.name.endswith(".bin"):
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return {k: v.clone() for k, v in state.items() if wanted(k)}
    if path.name.endswith(".index.json"):
        weight_map = json.loads(path.read_text())["weight_map"]
        shards = sorted({shard for key, shard in weight_map.items() if wanted(key)})
        files = [Path(cached_file(name_or_path, shard, revision=revision)) for shard in shards]
    else:
        files = [path]
    out = {}
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            out |= {k: f.get_tensor(k) for k in f.keys() if wanted(k)}
    return out


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over named tensors (name, shape, float32 bytes, in name order): what ``done.json``
    records of a head's starting weights, comparable with the digest of their source's."""
    digest = hashlib.sha256()
    for key, value in sorted(tensors.items()):
        v = value.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{key}:{tuple(v.shape)}".encode())
        digest.update(v.numpy().tobytes())
    return digest.hexdigest()


def _load_head_state(head: nn.Module, state: dict[str, torch.Tensor], name: str, *, tied: bool) -> None:
    """Load ``state`` into a new head: every tensor it has, each of the head's shape (a projection the
    head ties to the input embeddings may be absent, and is not loaded: the embeddings are its weights)."""
    own = head.state_dict()
    state = {k: v for k, v in state.items() if not (tied and k == "decoder.weight")}
    missing = sorted(set(own) - set(state) - ({"decoder.weight"} if tied else set()))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise ConfigError(f"head {name!r}: the given weights do not fit it (missing {missing}, unexpected {unexpected}"
                          f"{', shapes ' + '; '.join(wrong) if wrong else ''})")
    head.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
