"""Measured training throughput as a function of max length: the fit and the profile file.

``benchmarks/scaling.py`` times full-length training steps (forward, backward, AdamW) at several
max lengths and fits the seconds one row costs as ``a + b·L + c·L²``: ``a`` is what a row costs
whatever its length (the optimizer step and the head, shared by the batch), ``b·L`` the matmuls of
every token (dense layers), ``c·L²`` attention (every token against every other). It writes the fit
to a JSON *profile* (``--json FILE``); a study preset points at it (``cost: {profile: FILE}``, or
the three numbers inline) and ``--dry-run`` / ``grid plan`` then price each training phase as
rows × (a + b·L + c·L²) at that phase's max length — instead of one tokens/s figure measured at one
length, or an assumed MFU.

The fit minimises *relative* squared errors (each point weighted by 1/time): the times span two
orders of magnitude from 128 to 1024 tokens, and a plain least-squares fit would let the longest
lengths decide alone, leaving the short ones (where most phases train) off by a large factor.
R² is reported on the plain (unweighted) times.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xstilts.errors import ConfigError

PROFILE_KIND = "xstilts-throughput-profile"
PROFILE_VERSION = 1


@dataclass(frozen=True)
class RowFit:
    """Seconds per training row of max length ``L``: ``a + b·L + c·L²`` (at the batch it was measured at)."""

    a: float
    b: float
    c: float
    r2: float = math.nan

    def seconds_per_row(self, length: float) -> float:
        return self.a + self.b * length + self.c * length ** 2

    def quadratic_share(self, length: float) -> float:
        """The fraction of a row's time in the ``c·L²`` term (attention's share, roughly)."""
        return self.c * length ** 2 / self.seconds_per_row(length)


def fit_rows(lengths: Sequence[float], seconds_per_row: Sequence[float]) -> RowFit:
    """The least-squares fit of ``seconds_per_row`` at ``lengths`` to ``a + b·L + c·L²`` (relative
    errors; see the module's docstring). Needs three distinct lengths and positive times."""
    L = np.asarray(lengths, dtype=float)
    t = np.asarray(seconds_per_row, dtype=float)
    if L.shape != t.shape or len(np.unique(L)) < 3:
        raise ValueError(f"a quadratic fit needs times at 3 or more distinct lengths, got lengths {list(L)}")
    if not np.all(t > 0) or not np.all(np.isfinite(t)):
        raise ValueError(f"times must be positive and finite, got {list(t)}")
    design = np.stack([np.ones_like(L), L, L ** 2], axis=1)
    w = 1 / t
    (a, b, c), *_ = np.linalg.lstsq(design * w[:, None], t * w, rcond=None)
    predicted = design @ np.array([a, b, c])
    total = float(((t - t.mean()) ** 2).sum())
    r2 = 1 - float(((t - predicted) ** 2).sum()) / total if total > 0 else 1.0
    return RowFit(float(a), float(b), float(c), r2)


# ---------------------------------------------------------------------------------- FLOPs


def nonembedding_params(model) -> int:
    """Parameters outside the input embeddings (word, position, token type): the ones a token
    multiplies through. Lookups are not matmuls, so the 6·N rule leaves them out."""
    embeddings = {id(p) for name, p in model.named_parameters() if "embeddings." in name and "LayerNorm" not in name}
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def flops_per_token(nonembedding: float, layers: int, hidden: int, length: int) -> float:
    """Training FLOPs per token of an encoder at max length ``length``: 6·N_nonembedding (2 FLOPs
    per multiply-accumulate, forward + backward = 3 × forward) plus attention's scores and
    weighted sum, 2·L·hidden MACs per token per layer forward: 6·layers·L·hidden·2."""
    return 6 * nonembedding + 6 * layers * length * hidden * 2


# ---------------------------------------------------------------------------------- profile file


def write_profile(path: str | Path, *, device: str, batch: int, measured_at: str, models: dict[str, dict],
                  **extra: Any) -> None:
    """A profile: ``models`` maps a name to ``{"shape": {...}, "fit": RowFit or its dict, "points": [...]}``."""
    payload = {"kind": PROFILE_KIND, "version": PROFILE_VERSION, "device": device, "batch": batch,
               "measured_at": measured_at, **extra,
               "models": {name: {**m, "fit": asdict(m["fit"]) if isinstance(m["fit"], RowFit) else m["fit"]}
                          for name, m in models.items()}}
    Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")


@dataclass(frozen=True)
class Profile:
    """One model's fit from a profile file, with where it was measured (for the plan's line)."""

    fit: RowFit
    model: str
    device: str
    batch: int | None
    measured_at: str
    source: str

    def describe(self) -> str:
        batch = f", batch {self.batch}" if self.batch else ""
        when = f", {self.measured_at}" if self.measured_at else ""
        return (f"measured s/row = {self.fit.a:.3g} + {self.fit.b:.3g}·L + {self.fit.c:.3g}·L² at each phase's "
                f"max length ({self.source}: {self.model} on {self.device or 'an unnamed device'}{batch}{when})")


def load_profile(path: str | Path, model: str | None = None, *, where: str = "cost.profile") -> Profile:
    """Model ``model``'s fit from profile file ``path`` (the only model's when ``model`` is None).
    Errors are one :class:`ConfigError` line naming ``where``, the file and the field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file {path} (write one with `python benchmarks/scaling.py --json FILE`)") \
            from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: cannot read {path}: {err}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{where}: {path}:{err.lineno}: not JSON ({err.msg})") from None
    if not isinstance(raw, dict) or raw.get("kind") != PROFILE_KIND or not isinstance(raw.get("models"), dict):
        raise ConfigError(f"{where}: {path}: not a throughput profile (expected kind {PROFILE_KIND!r} and 'models')")
    models = raw["models"]
    if model is None:
        if len(models) != 1:
            raise ConfigError(f"{where}: {path} holds {len(models)} models ({', '.join(models) or 'none'}): "
                              f"name one with cost.profile_model")
        model = next(iter(models))
    if model not in models:
        raise ConfigError(f"{where}: {path} has no model {model!r} (has {', '.join(models)})")
    fit = models[model].get("fit") if isinstance(models[model], dict) else None
    try:
        row = RowFit(**{k: float(fit[k]) for k in ("a", "b", "c")}, r2=float(fit.get("r2", math.nan)))
    except (TypeError, KeyError, ValueError):
        raise ConfigError(f"{where}: {path}: models.{model}.fit: expected numbers a, b, c, got {fit!r}") from None
    batch = raw.get("batch")
    return Profile(row, model, str(raw.get("device", "")), int(batch) if isinstance(batch, int) else None,
                   str(raw.get("measured_at", "")), str(path))
