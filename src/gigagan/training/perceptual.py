"""Perceptual distances for upsampler training: LPIPS when its weights are at hand, else a fallback.

`LPIPS` is the learned perceptual metric of Zhang et al. (2018), VGG16 variant: torchvision's VGG16
architecture (never downloaded: the backbone weights come from a local file the user supplies),
features after relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, unit-normalised over channels,
squared differences weighted per channel by the five learned linear layers, averaged over positions
and summed over layers. `--lpips-weights PATH` takes one file (or a folder of files; `.safetensors`,
`.pt`, `.pth`) that together hold the backbone (torchvision `features.N.*` keys, or the `lpips`
package's `net.sliceK.N.*`) and the linear layers (`lin0 ... lin4`, e.g. `lin0.model.1.weight`), for
instance torchvision's `vgg16-397923af.pth` and the `lpips` package's `weights/v0.1/vgg.pth` in one
folder.

`PyramidDistance` is the fallback when no LPIPS weights are configured, and it is NOT LPIPS: the
mean absolute difference of the images and of their horizontal and vertical gradients, on every
level of the antialiased image pyramid (full size down to 8 px). It has no learned or random
weights, is zero exactly for identical images, and penalises both colour and edge structure at
every scale, but it does not model perceived similarity the way LPIPS does.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from gigagan.errors import GigaGANError
from gigagan.nn import image_pyramid

log = logging.getLogger(__name__)

LPIPS_TAPS = (3, 8, 15, 22, 29)  # VGG16 `features` indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # the input scaling LPIPS was trained with (inputs in [-1, 1])
LPIPS_SCALE = (0.458, 0.448, 0.450)
FALLBACK_NOTICE = (
    "notice: no --lpips-weights: the perceptual loss is the fallback multi-scale pixel and gradient L1 "
    "distance (gigagan.training.perceptual.PyramidDistance), NOT LPIPS"
)

_BACKBONE_KEY = re.compile(r"(?:^|\.)(?:features|net\.slice\d)\.(\d+)\.(weight|bias)$")
_LINEAR_KEY = re.compile(r"(?:^|\.)lin(\d)\.(?:model\.\d+\.)?weight$")


def _read_weights(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        from gigagan.models.pretrained import load_safetensors

        return load_safetensors(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise GigaGANError(f"cannot read LPIPS weights {path}: {type(error).__name__}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise GigaGANError(f"{path} does not hold a state dict")
    return {k: v for k, v in state.items() if isinstance(v, Tensor)}


def load_lpips_state(path: str | Path) -> tuple[dict[str, Tensor], list[Tensor]]:
    """(VGG16 `features` state dict, five linear-layer weights [C]) from a file or a folder of files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".pt", ".pth"))
    elif path.is_file():
        files = [path]
    else:
        raise GigaGANError(f"LPIPS weights not found: {path}")
    backbone: dict[str, Tensor] = {}
    linear: dict[int, Tensor] = {}
    for file in files:
        for key, value in _read_weights(file).items():
            if match := _BACKBONE_KEY.search(key):
                backbone[f"{match[1]}.{match[2]}"] = value.float()
            elif match := _LINEAR_KEY.search(key):
                linear[int(match[1])] = value.float().flatten()
    missing = [f"lin{i}" for i in range(len(LPIPS_TAPS)) if i not in linear]
    if not backbone or missing:
        what = "VGG16 backbone (features.N.weight)" if not backbone else ", ".join(missing)
        raise GigaGANError(f"{path} lacks the LPIPS {what}; see gigagan.training.perceptual for the layout")
    return backbone, [linear[i] for i in range(len(LPIPS_TAPS))]


class LPIPS(nn.Module):
    """LPIPS (VGG16) distance per sample, [B], for images in [-1, 1]; frozen."""

    def __init__(self, backbone: dict[str, Tensor], linear: list[Tensor]) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        features = make_layers(cfgs["D"])[: LPIPS_TAPS[-1] + 1]  # VGG16's `features`, without the classifier
        try:
            features.load_state_dict(backbone, strict=True)
        except RuntimeError as error:
            raise GigaGANError(f"the LPIPS backbone weights do not fit VGG16 ({str(error).splitlines()[0]})") from error
        for weight, channels in zip(linear, LPIPS_CHANNELS):
            if weight.numel() != channels:
                raise GigaGANError(f"an LPIPS linear layer has {weight.numel()} weights, {channels} expected")
        self.features = features.requires_grad_(False).eval()
        for index, weight in enumerate(linear):
            self.register_buffer(f"linear{index}", weight.clone(), persistent=False)
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_file(cls, path: str | Path) -> LPIPS:
        return cls(*load_lpips_state(path))

    def train(self, mode: bool = True) -> LPIPS:
        return super().train(False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = (torch.cat([x, y]).float() - self.shift) / self.scale
        total = x.new_zeros(x.shape[0], dtype=torch.float32)
        tap = 0
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index == LPIPS_TAPS[tap]:
                h = h.clone()  # torchvision's ReLUs work in place
                normalised = h / (h.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
                a, b = normalised.chunk(2)
                weight = getattr(self, f"linear{tap}").view(1, -1, 1, 1)
                total = total + ((a - b).square() * weight).sum(dim=1).mean(dim=(1, 2))
                tap += 1
        return total


def _gradients(image: Tensor) -> tuple[Tensor, Tensor]:
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


class PyramidDistance(nn.Module):
    """The fallback perceptual distance (NOT LPIPS), per sample [B]: mean over pyramid levels (full
    size down to `min_size` px) of L1(x, y) + L1 of their horizontal and vertical gradients."""

    def __init__(self, min_size: int = 8) -> None:
        super().__init__()
        self.min_size = min_size

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x, y = x.float(), y.float()
        levels = 1
        while x.shape[-1] >> levels >= self.min_size and x.shape[-2] >> levels >= self.min_size:
            levels += 1
        terms = []
        for a, b in zip(image_pyramid(x, levels), image_pyramid(y, levels)):
            (ax, ay), (bx, by) = _gradients(a), _gradients(b)
            pixel = (a - b).abs().mean(dim=(1, 2, 3))
            edges = (ax - bx).abs().mean(dim=(1, 2, 3)) + (ay - by).abs().mean(dim=(1, 2, 3))
            terms.append(pixel + edges)
        return torch.stack(terms).mean(dim=0)


def build_perceptual_distance(lpips_weights: str | Path | None) -> nn.Module:
    """LPIPS from local weights, or the documented fallback (with a one-line notice) without them."""
    if lpips_weights:
        return LPIPS.from_file(lpips_weights)
    log.warning(FALLBACK_NOTICE)
    return PyramidDistance()
