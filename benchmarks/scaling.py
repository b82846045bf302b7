"""Scaling: training step time vs max length, its a + b·L + c·L² fit, and MFU against a measured peak.

    python benchmarks/scaling.py [--models tiny,mini] [--lengths 128,256,384,512,768,1024] [--batch 4]
                                 [--steps 5] [--warmup 2] [--precision fp32|bf16] [--freeze-embeddings]
                                 [--attention xstilts|sdpa] [--json FILE]

One training step is xstilts' own: a :class:`~xstilts.modeling.MultiTaskModel` with a classification
head (MNLI's three labels), forward and loss under the loop's autocast setting, backward, gradient
clipping at 1.0, and the loop's AdamW as ``train()`` sets it up (``xstilts.training.optim``: fused
where torch has it, no decay on biases and norms, row-sparse embedding gradients where exact) and
the dropout ``train()`` switches an encoder to (``xstilts.training.dropout``: on CPU, attention dropout
without SDPA's math path and masks without ``bernoulli_``; ``--attention sdpa`` keeps HF's SDPA and
``nn.Dropout``, for the before/after).
Every row is full length (random token ids, no padding), the batch is fixed, and the lengths take
turns step by step (the order reversed every other round), so a disturbance of the machine falls on
every length alike; ``--warmup`` rounds are not timed. The median step of each length gives
seconds per row, fitted as ``a + b·L + c·L²`` (:func:`xstilts.throughput.fit_rows`: relative least
squares); the table shows each length's time, the fit's, and the share of the ``c·L²`` term.

FLOPs: ``6·N_nonembedding + 6·layers·L·hidden·2`` per token (:func:`xstilts.throughput.flops_per_token`:
dense layers and head forward + backward, plus attention's scores and weighted sum; embedding
lookups and AdamW not counted), × batch × L per step. MFU is that over the step time, against the
best of a dense square matmul (fp32, and bf16 where this device multiplies in bf16) measured in the
same run — the peak this machine reaches, not a datasheet number.

Models: ``tiny`` (an XLM-R config: 2 layers, hidden 128, XLM-R's 250k vocabulary, random weights,
514 positions), ``mini`` (the shared multilingual-e5-small: a BERT layout, 12 layers, hidden 384, 512
positions), ``large`` (XLM-R large's shape, random weights; for a GPU) and ``demo`` (the demo preset's
from-scratch encoder: 4 layers, hidden 64, a 2,000-piece vocabulary, random weights). All take 512
tokens; a longer length runs on a model of the same shape with more positions and random weights (the
``weights`` column says so): the time of a step does not depend on the weights' values.

``--json FILE`` writes a throughput profile (device, batch, each model's shape, fit and points,
measured_at) that a study preset's ``cost: {profile: FILE}`` prices its phases with (docs in
:mod:`xstilts.throughput`). The fit holds at the batch it was measured at: ``a`` includes the
optimizer step shared by the batch (large with trainable embeddings on a CPU; ``--freeze-embeddings``
matches presets that freeze them).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time  # noqa: E402

LENGTHS = (128, 256, 384, 512, 768, 1024)
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {model}, {torch.get_num_threads()} threads"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float | None:
    """FLOP/s of the best of ``repeats`` dense ``size``² @ ``size``² matmuls; None where ``dtype``
    does not multiply on this device."""
    try:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        torch.matmul(a, b)  # warm-up (and the check that it works at all)
    except (RuntimeError, TypeError):
        return None

    def once():
        torch.matmul(a, b)
        _sync(device)

    return 2 * size ** 3 / best_time(once, repeats)


def demo_shape() -> dict:
    """The demo preset's from-scratch encoder: its model shape and its tokenizer's vocabulary."""
    from xstilts.study import load_preset

    spec = load_preset("demo").pretrained["from_scratch"]
    return {**spec["model"], "vocab_size": spec["tokenizer"]["vocab_size"]}


def encoder_config(name: str, cache: Path):
    """The encoder directory of ``name`` and its config; ``large`` and ``demo`` are shapes only
    (directory None: random weights), on the tiny XLM-R config."""
    from train_throughput import encoder_dir
    from transformers import AutoConfig

    if name not in ("tiny", "mini", "large", "demo"):
        raise SystemExit(f"--models: unknown model {name!r} (tiny, mini, large, demo)")
    base = encoder_dir(name if name in ("tiny", "mini") else "tiny", cache)
    config = AutoConfig.from_pretrained(str(base))
    if name in ("large", "demo"):
        for key, value in (LARGE if name == "large" else demo_shape()).items():
            setattr(config, key, value)
        return None, config
    return base, config


def build_model(directory: Path | None, config, positions: int, dropout: float | None = None):
    """A MultiTaskModel with a classification head: ``directory``'s weights when its position
    embeddings reach ``positions``, else the same shape with ``positions`` and random weights;
    ``dropout`` (hidden and attention) replaces the config's, as the ``dropout`` setting of a run does."""
    import copy

    from transformers import AutoModel

    from xstilts.modeling import MultiTaskModel, head_spec_for
    from xstilts.tasks import get_task

    torch.manual_seed(0)
    if directory is not None and config.max_position_embeddings >= positions:
        model, weights = MultiTaskModel.from_pretrained(str(directory), dropout=dropout), "its checkpoint"
    else:
        config = copy.deepcopy(config)
        config.max_position_embeddings = max(positions, config.max_position_embeddings)
        if dropout is not None:
            config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout
        try:
            encoder = AutoModel.from_config(config, add_pooling_layer=False)
        except TypeError:
            encoder = AutoModel.from_config(config)
        model, weights = MultiTaskModel(encoder), f"random, {config.max_position_embeddings} positions"
    task = get_task("mnli")
    model.add_head(task.name, head_spec_for(task))
    return model, weights


class Stepper:
    """One model on the device with the loop's optimizer: ``step(L)`` times one training step."""

    def __init__(self, model, *, batch: int, precision: str, freeze_embeddings: bool, device: torch.device,
                 attention: str = "xstilts"):
        from xstilts.config import TrainingArgs
        from xstilts.training.loop import set_embeddings_trainable

        self.model, self.batch, self.device = model.to(device), batch, device
        self.bf16 = precision == "bf16"
        set_embeddings_trainable(self.model, not freeze_embeddings)
        args = TrainingArgs(learning_rate=5e-5)
        try:  # the loop's optimizer module (row-sparse embedding gradients where exact), as train() sets it up
            from xstilts.training.optim import build_optimizer, clip_grad_norm_, sparse_embeddings_apply

            precision = "bf16" if self.bf16 else "no"
            self.sparse = sparse_embeddings_apply(self.model, processes=1, mixed_precision=precision)
            self.optimizer, self.clip = build_optimizer(self.model, args), clip_grad_norm_
        except ImportError:  # an xstilts whose loop builds AdamW itself
            from xstilts.training.loop import _optimizer

            self.optimizer, self.clip, self.sparse = _optimizer(self.model, args), torch.nn.utils.clip_grad_norm_, False
        self.attention = "sdpa"
        if attention == "xstilts":
            try:  # the attention train() switches a CPU encoder to (CPU dropout without bernoulli_ or SDPA's math path)
                from xstilts.training.dropout import use_for_training

                use_for_training(self.model.encoder)
                self.attention = self.model.encoder.config._attn_implementation
            except ImportError:  # an xstilts without it
                pass
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.vocab = self.model.encoder.config.vocab_size
        self.generator = torch.Generator().manual_seed(0)
        self.model.train()

    def step(self, length: int) -> float:
        ids = torch.randint(5, self.vocab, (self.batch, length), generator=self.generator)
        batch = {"input_ids": ids.to(self.device), "attention_mask": torch.ones_like(ids).to(self.device),
                 "labels": torch.randint(0, 3, (self.batch,), generator=self.generator).to(self.device)}
        _sync(self.device)
        start = time.perf_counter()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.model.loss("mnli", self.model("mnli", batch), batch)
        loss.backward()
        self.clip(self.params, 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        _sync(self.device)
        return time.perf_counter() - start


def measure(name: str, lengths: list[int], *, batch: int, steps: int, warmup: int, precision: str,
            freeze_embeddings: bool, cache: Path, device: torch.device, peak: float | None,
            dropout: float | None = None, attention: str = "xstilts") -> tuple[list[dict], dict]:
    """Rows of one model (one per length, then its fit) and its profile entry."""
    from xstilts.throughput import fit_rows, flops_per_token, nonembedding_params

    directory, config = encoder_config(name, cache)
    # (XLM-)RoBERTa's positions start after the padding index (514 positions: 512 tokens); BERT's at 0.
    offset = config.pad_token_id + 1 if "roberta" in config.model_type else 0
    own = config.max_position_embeddings - offset
    fits, beyond = [L for L in lengths if L <= own], [L for L in lengths if L > own]
    steppers, weights = {}, {}
    for group in (fits, beyond):
        if group:
            model, what = build_model(directory, config, max(group) + offset, dropout)
            stepper = Stepper(model, batch=batch, precision=precision, freeze_embeddings=freeze_embeddings,
                              device=device, attention=attention)
            for L in group:
                steppers[L], weights[L] = stepper, what
    times: dict[int, list[float]] = {L: [] for L in lengths}
    for round_ in range(warmup + steps):
        for L in (lengths if round_ % 2 == 0 else lengths[::-1]):
            seconds = steppers[L].step(L)
            if round_ >= warmup:
                times[L].append(seconds)
    per_row = {L: statistics.median(times[L]) / batch for L in lengths}
    fit = fit_rows(lengths, [per_row[L] for L in lengths])
    model = next(iter(steppers.values())).model
    n = nonembedding_params(model)
    shape = {"hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
             "num_attention_heads": config.num_attention_heads, "intermediate_size": config.intermediate_size,
             "vocab_size": config.vocab_size, "max_position_embeddings": config.max_position_embeddings,
             "nonembedding_params": n, "params": sum(p.numel() for p in model.parameters())}
    rows = []
    for L in lengths:
        flops = flops_per_token(n, config.num_hidden_layers, config.hidden_size, L) * L / per_row[L]
        rows.append({"benchmark": "scaling", "case": f"{name}-L{L}", "model": name, "max_length": L, "batch": batch,
                     "steps": steps, "precision": precision, "weights": weights[L], "attention": steppers[L].attention,
                     "embedding_gradient": ("frozen" if freeze_embeddings else
                                            "row-sparse" if steppers[L].sparse else "dense"),
                     "seconds_per_step": per_row[L] * batch, "seconds_per_step_min": min(times[L]),
                     "seconds_per_step_max": max(times[L]), "seconds_per_row": per_row[L],
                     "fit_seconds_per_row": fit.seconds_per_row(L), "quadratic_share": fit.quadratic_share(L),
                     "tokens_per_second": L / per_row[L], "flops_per_second": flops,
                     "mfu": flops / peak if peak else None})
    rows.append({"benchmark": "scaling", "case": f"{name}-fit", "model": name, "a": fit.a, "b": fit.b, "c": fit.c,
                 "r2": fit.r2, "nonembedding_params": n})
    points = [{k: r[k] for k in ("max_length", "seconds_per_row", "seconds_per_step_min", "seconds_per_step_max",
                                 "weights", "embedding_gradient", "mfu")} for r in rows if "max_length" in r]
    return rows, {"shape": shape, "fit": fit, "points": points}


def run(quick: bool = False, *, models: list[str] | None = None, lengths: list[int] | None = None, batch: int = 4,
        steps: int = 5, warmup: int = 2, precision: str = "fp32", freeze_embeddings: bool = False,
        matmul_size: int | None = None, json_path: Path | None = None, dropout: float | None = None,
        attention: str = "xstilts", echo=print) -> list[dict]:
    """The table's rows: the matmul peaks, then per model one row per length and its fit."""
    from xstilts.throughput import write_profile

    if quick:
        models, lengths, steps, warmup, matmul_size = ["tiny"], [64, 128, 256], 2, 1, 512
    models = models or ["tiny", "mini"]
    lengths = sorted(lengths or LENGTHS)
    device = _device()
    matmul_size = matmul_size or (8192 if device.type == "cuda" else 2048)
    cache = Path(os.environ.get("XSTILTS_BENCH_CACHE", Path(tempfile.gettempdir()) / "xstilts-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    peaks = {dtype: matmul_peak(device, getattr(torch, {"fp32": "float32", "bf16": "bfloat16"}[dtype]), matmul_size,
                                3 if quick else 5) for dtype in ("fp32", "bf16")}
    rows = [{"benchmark": "scaling", "case": f"matmul-{dtype}", "size": matmul_size, "flops_per_second": peak}
            for dtype, peak in peaks.items()]
    profiles = {}
    for name in models:
        model_rows, profiles[name] = measure(name, lengths, batch=batch, steps=steps, warmup=warmup,
                                             precision=precision, freeze_embeddings=freeze_embeddings, cache=cache,
                                             device=device, peak=peaks[precision], dropout=dropout,
                                             attention=attention)
        rows += model_rows
    _print(rows, echo, device_name(device), precision + ("" if dropout is None else f", dropout {dropout:g}"))
    if json_path is not None:
        write_profile(json_path, device=device_name(device), batch=batch,
                      measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      models=profiles, precision=precision, freeze_embeddings=freeze_embeddings, steps=steps,
                      dropout="config" if dropout is None else dropout, attention=attention,
                      warmup=warmup, torch=torch.__version__,
                      matmul_peak_flops={k: v for k, v in peaks.items() if v},
                      flops_formula="6·N_nonembedding + 6·layers·L·hidden·2 per token",
                      fit="seconds per row = a + b·L + c·L² (relative least squares)")
    return rows


def _print(rows: list[dict], echo, device: str, precision: str) -> None:
    peaks = ", ".join(f"{r['case'][7:]} {r['flops_per_second'] / 1e9:,.1f} GFLOP/s" if r["flops_per_second"]
                      else f"{r['case'][7:]} n/a" for r in rows if r["case"].startswith("matmul-"))
    echo(f"{device}; matmul peak ({rows[0]['size']}²): {peaks}; training in {precision}")
    echo(f"{'model':<5} {'L':>5} {'s/step':>8} {'s/row':>9} {'fit s/row':>9} {'c·L² share':>10} {'tok/s':>9} "
         f"{'GFLOP/s':>8} {'MFU':>6}  {'attention':<12} weights")
    for r in rows:
        if "max_length" in r:
            mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
            echo(f"{r['model']:<5} {r['max_length']:>5} {r['seconds_per_step']:>8.3f} {r['seconds_per_row']:>9.4g} "
                 f"{r['fit_seconds_per_row']:>9.4g} {r['quadratic_share']:>10.1%} {r['tokens_per_second']:>9,.0f} "
                 f"{r['flops_per_second'] / 1e9:>8.2f} {mfu:>6}  {r['attention']:<12} {r['weights']}")
        elif "a" in r:
            echo(f"{r['model']:<5} fit: s/row = {r['a']:.4g} + {r['b']:.4g}·L + {r['c']:.4g}·L² "
                 f"(R² {r['r2']:.4f}, N_nonembedding {r['nonembedding_params']:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,mini", help="tiny, mini, large, demo (comma-separated)")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per length")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds over every length first")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: forward and loss under bf16 autocast (CPUs too); MFU against the bf16 matmul")
    parser.add_argument("--freeze-embeddings", action="store_true",
                        help="the input word embeddings out of AdamW (as presets with freeze_embeddings)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="hidden and attention dropout instead of the config's (0: SDPA's fused CPU kernel)")
    parser.add_argument("--attention", choices=("xstilts", "sdpa"), default="xstilts",
                        help="xstilts: the dropout and attention train() uses (on CPU, xstilts.training.dropout); "
                             "sdpa: HF's SDPA and nn.Dropout throughout (SDPA's math path under dropout)")
    parser.add_argument("--matmul-size", type=int, default=None, help="peak matmul side (2048 on CPU, 8192 on GPU)")
    parser.add_argument("--quick", action="store_true", help="tiny model, lengths 64,128,256, 2 steps")
    parser.add_argument("--json", type=Path, default=None, help="write the throughput profile here")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    rows = run(args.quick, models=args.models.split(","), lengths=[int(x) for x in args.lengths.split(",")],
               batch=args.batch, steps=args.steps, warmup=args.warmup, precision=args.precision,
               freeze_embeddings=args.freeze_embeddings, matmul_size=args.matmul_size, json_path=args.json,
               dropout=args.dropout, attention=args.attention)
    if args.json is None:
        return
    print(f"profile written to {args.json} ({len(rows)} rows); a preset uses it with cost: {{profile: {args.json}}}")


if __name__ == "__main__":
    main()
