"""The synthesis network compiles with torch.compile as one graph (no graph breaks)."""

from __future__ import annotations

import torch
import torch._dynamo

from gigagan.config import ModelConfig
from gigagan.models import Generator


def test_tiny_generator_compiles_without_graph_breaks(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator).eval()
    z = torch.randn(2, tiny.generator.z_dim)
    text = generator.encode_text(generator.tokenize(["a red circle", "a blue square"]))
    ws = generator.map(z, text)
    torch._dynamo.reset()
    # fullgraph=True turns any graph break into an error; the default (inductor) backend compiles.
    compiled = torch.compile(generator.synthesis, fullgraph=True, dynamic=False)
    with torch.no_grad():
        eager = generator.synthesis(ws, text.local, text.mask, "const")
        fast = compiled(ws, text.local, text.mask, "const")
    for a, b in zip(eager, fast):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_mapping_compiles_without_graph_breaks(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    z, t_global = torch.randn(2, tiny.generator.z_dim), torch.randn(2, generator.text_encoder.width)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(generator.mapping)(z, t_global)
    assert explanation.graph_break_count == 0, explanation.break_reasons
