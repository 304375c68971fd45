"""CLIP score (Hessel et al. 2021) as the GigaGAN authors report it.

score(image, caption) = 100 * max(cos(E_image(image), E_text("A photo depicts " + caption)), 0),
with OpenAI's CLIP ViT-B/32 through open_clip, averaged over the images. Images are quantised to
uint8 (as saved files) and go through open_clip's own evaluation transform (bicubic resize of the
short side to 224, centre crop, CLIP normalisation). The weights must be a local file: without one
there is no CLIP score, and the error says how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image
from torch import Tensor, nn

from gigagan.config import CLIPConfig
from gigagan.errors import GigaGANError
from gigagan.metrics.inception import quantize_images
from gigagan.models.clip import CLIP_MEAN, CLIP_STD, build_clip_model, clip_image_size

CAPTION_PREFIX = "A photo depicts "
CLIP_SCORE_MODEL = "ViT-B-32"


def clip_score_config(weights: str | os.PathLike[str] | None) -> CLIPConfig:
    """The CLIP used for scoring: ViT-B/32 (QuickGELU, as OpenAI trained it) from a local weights file."""
    if weights is None:
        raise GigaGANError(
            "clip_score needs CLIP ViT-B/32 weights: give --clip-weights PATH (e.g. open_clip's "
            "ViT-B-32 'openai' checkpoint saved as .safetensors, .bin or .pt)"
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise GigaGANError(f"CLIP weights file not found: {path}")
    return CLIPConfig(model_name=f"{CLIP_SCORE_MODEL}-quickgelu", pretrained=str(path))


class CLIPScorer(nn.Module):
    """Per-image CLIP scores for (image, caption) pairs; `config` defaults to `clip_score_config(weights)`."""

    def __init__(self, weights: str | os.PathLike[str] | None = None, config: CLIPConfig | None = None) -> None:
        super().__init__()
        self.config = config or clip_score_config(weights)
        self.model = build_clip_model(self.config).eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(self.config.model_name)
        self.transform = open_clip.image_transform(
            clip_image_size(self.config), is_train=False, mean=CLIP_MEAN, std=CLIP_STD
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def preprocess(self, images: Tensor | Sequence[np.ndarray]) -> Tensor:
        """Images ([N, 3, H, W] uint8 or [-1, 1] float, or uint8 [H, W, 3] arrays) -> CLIP input batch."""
        if isinstance(images, Tensor):
            arrays = list(quantize_images(images).permute(0, 2, 3, 1).cpu().numpy())
        else:
            arrays = [np.asarray(image, dtype=np.uint8) for image in images]
        return torch.stack([self.transform(Image.fromarray(array)) for array in arrays])

    @torch.no_grad()
    def forward(self, images: Tensor | Sequence[np.ndarray], captions: Sequence[str]) -> np.ndarray:
        """float64 [N] scores, 100 * max(cosine similarity, 0)."""
        if len(images) != len(captions):
            raise ValueError(f"{len(images)} images but {len(captions)} captions")
        pixels = self.preprocess(images).to(self.device)
        tokens = self.tokenizer([CAPTION_PREFIX + caption for caption in captions]).to(self.device)
        image_embeddings = nn.functional.normalize(self.model.encode_image(pixels).double(), dim=-1)
        text_embeddings = nn.functional.normalize(self.model.encode_text(tokens).double(), dim=-1)
        cosine = (image_embeddings * text_embeddings).sum(dim=-1)
        return (100.0 * cosine.clamp_min(0.0)).cpu().numpy()
