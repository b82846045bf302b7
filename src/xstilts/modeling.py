"""One shared encoder (any HF ``AutoModel``), a dict of format heads, and a task → head map.

All languages of a target share its head; a target head may start from an intermediate task's
head (``head_init``), e.g. XNLI from ANLI/MNLI, when formats and label sets agree. Saved with
safetensors only: the encoder through ``save_pretrained`` and the heads as one safetensors file
plus a JSON spec, so ``MultiTaskModel.load`` needs no pickle.
"""

from __future__ import annotations

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
            load = lambda **kw: AutoModel.from_pretrained(name_or_path, revision=revision, config=config, **kw)  # noqa: E731
        # add_pooling_layer=False where supported: we never use the pooler (heads own their layers).
        try:
            encoder = load(add_pooling_layer=False)
        except TypeError:
            encoder = load()
        return cls(encoder)

    def add_head(self, name: str, spec: HeadSpec, init_from: str | None = None) -> None:
        """Add head ``name``; ``init_from`` copies the weights of an existing, compatible head."""
        head = get_format(spec.format).Head(self.hidden_size, **spec.kwargs)
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
        if hasattr(head, "tie") and getattr(self.encoder.config, "tie_word_embeddings", False):
            head.tie(self.encoder.get_input_embeddings())
        self.heads[name] = head
        self.specs[name] = spec

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
