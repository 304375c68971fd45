"""CLIP score: the authors' formula on a toy CLIP, and the message when no weights are given."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from safetensors.torch import save_file

from gigagan.errors import GigaGANError
from gigagan.metrics.clip_score import CAPTION_PREFIX, CLIPScorer, clip_score_config
from gigagan.models.clip import clip_architecture


def test_scores_are_100_times_clamped_cosine_with_the_prefix(tiny, tmp_path: Path) -> None:
    config = dataclasses.replace(tiny.generator.text.clip, pretrained=str(tmp_path / "clip.safetensors"))
    torch.manual_seed(3)
    reference = open_clip.CLIP(**clip_architecture(config)).eval()
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, config.pretrained)
    scorer = CLIPScorer(config=config)
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    captions = ["a red square", "a blue circle", "a cat"]
    scores = scorer(images, captions)
    assert scores.shape == (3,) and scores.dtype == np.float64
    assert ((scores >= 0) & (scores <= 100)).all()
    with torch.no_grad():
        image = torch.nn.functional.normalize(reference.encode_image(scorer.preprocess(images)), dim=-1)
        tokens = scorer.tokenizer([CAPTION_PREFIX + text for text in captions])
        text = torch.nn.functional.normalize(reference.encode_text(tokens), dim=-1)
    expected = 100 * (image * text).sum(-1).clamp_min(0).double().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


def test_no_weights_is_a_clear_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(GigaGANError, match="--clip-weights PATH"):
        clip_score_config(None)
    with pytest.raises(GigaGANError, match="not found"):
        clip_score_config(tmp_path / "missing.safetensors")
    assert clip_score_config(__file__).model_name == "ViT-B-32-quickgelu"
