"""The starting adapter: saved A·B matrices merge into exactly what peft computes, and names are checked early."""

from __future__ import annotations

import pytest

from webagent import adapters
from webagent.errors import ModelError


def test_names_resolve_or_fail_clearly(tmp_path):
    assert adapters.resolve("none", "default") is None
    assert adapters.resolve("default", str(tmp_path)) is None  # the packaged adapter fits only the default model
    with pytest.raises(ModelError, match="neither 'default', 'none' nor an adapter file"):
        adapters.resolve(str(tmp_path / "missing.safetensors"), "default")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    from webagent.models.loading import load

    with pytest.raises(ModelError, match="not readable"):
        load("default", adapter=str(bad))


@pytest.mark.model
def test_a_merged_adapter_computes_what_the_wrapped_model_computes(tmp_path):
    """Merging W += scale·B·A is the adapter, not an approximation of it (B is random here, not zero)."""
    import torch

    from webagent.models.loading import load

    _, tokenizer, wrapped = load("default", adapter="none")
    adapters.inject(wrapped, rank=4, blocks=2, seed=0)
    params = adapters.trainable(wrapped)
    assert params and all(".layers.28." in n or ".layers.29." in n for n, _ in params)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in params:
            if "lora_B" in name:
                p.normal_(0, 0.02)
    path = adapters.save(tmp_path / "a.safetensors", wrapped, {"note": "test"})
    name, _, merged = load("default", adapter=str(path))
    assert name.endswith("+a")
    ids = tokenizer("Click on the OK button.", return_tensors="pt").input_ids
    _, _, raw = load("default", adapter="none")
    with torch.no_grad():
        want, got, before = (m(ids).logits[0, -1] for m in (wrapped, merged, raw))
    assert torch.allclose(want, got, atol=1e-4)
    assert not torch.allclose(before, got, atol=1e-2)  # the adapter did change something


def test_an_unknown_adapter_is_refused_before_anything_loads(tmp_path):
    from typer.testing import CliRunner

    from webagent.cli import app

    result = CliRunner().invoke(
        app, ["miniwob", "--task", "click-button", "--adapter", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2 and "adapter" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.db").exists()
