"""Shared fixtures: the real data folder, the golden vectors, and the mini multilingual encoder.

Paths come from environment variables (set by .ci/run) and default to ``../shared`` beside the
repository. The encoder is built once per machine into a temp cache, never into ``shared/``.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _shared_path(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env, default))
    if not path.is_dir():
        pytest.skip(f"{path} not found (set {env})")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _shared_path("XSTILTS_DATA_DIR", SHARED / "data")


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return _shared_path("XSTILTS_GOLDEN_DIR", SHARED / "golden")


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    path = Path(os.environ.get("XSTILTS_TEST_CACHE", Path(tempfile.gettempdir()) / "xstilts-test-cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mini_encoder_dir(cache_dir: Path) -> Path:
    """The shared mini multilingual encoder (multilingual-e5-small, XLM-R vocabulary), built once."""
    tools = _shared_path("XSTILTS_TOOLS_DIR", SHARED / "tools")
    out = cache_dir / "mini-e5"
    # A lock, because pytest-xdist workers may all ask for it at once.
    with open(cache_dir / "mini-e5.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "tokenizer.json").exists() or not (out / "model.safetensors").exists():
            subprocess.run(
                [sys.executable, str(tools / "build_mini_multilingual_encoder.py"), str(out)],
                check=True, capture_output=True,
            )
    return out


@pytest.fixture(scope="session")
def mini_tokenizer(mini_encoder_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(mini_encoder_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(cache_dir: Path, mini_encoder_dir: Path) -> Path:
    """A tiny randomly initialised XLM-R-shaped encoder with the mini encoder's tokenizer."""
    out = cache_dir / "tiny-xlmr"
    with open(cache_dir / "tiny-xlmr.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "config.json").exists():
            import shutil

            import torch
            from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

            torch.manual_seed(0)
            tok = AutoTokenizer.from_pretrained(str(mini_encoder_dir))
            config = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=514,
                                      pad_token_id=tok.pad_token_id, bos_token_id=0, eos_token_id=2)
            tmp = cache_dir / "tiny-xlmr.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(tmp)
            tok.save_pretrained(tmp)
            tmp.rename(out)
    return out
