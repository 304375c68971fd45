"""Writing results: PNGs with provenance text chunks, labelled grids, GIFs and MP4s (all written atomically)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo
from torch import Tensor

from gigagan.io import atomic_write_bytes

BACKGROUND = (255, 255, 255)
LABEL_COLOR = (30, 30, 30)
MP4_UNAVAILABLE = "MP4 skipped: no video encoder here (install imageio[ffmpeg] or av to get one)"


def tensor_to_pil(image: Tensor) -> Image.Image:
    """One image [3, H, W] in [-1, 1] -> PIL RGB."""
    array = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value)


def png_bytes(image: Image.Image, metadata: Mapping[str, Any] | None = None) -> bytes:
    """Encode a PNG with one UTF-8 text chunk (iTXt) per metadata entry; lists are stored as JSON."""
    from gigagan import __version__

    info = PngInfo()
    for key, value in {"software": f"gigagan {__version__}", **(metadata or {})}.items():
        info.add_itxt(key, _text_value(value))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(image: Image.Image | Tensor, path: Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write `image` (PIL, or a [3, H, W] tensor in [-1, 1]) as a PNG with text chunks, atomically."""
    if isinstance(image, Tensor):
        image = tensor_to_pil(image)
    atomic_write_bytes(Path(path), png_bytes(image, metadata))
    return Path(path)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Any) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def grid_image(
    cells: Sequence[Image.Image | Tensor | None],
    columns: int,
    scale: int = 1,
    padding: int = 2,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    font_size: int = 12,
) -> Image.Image:
    """Lay `cells` out row by row (None leaves a blank cell), each scaled up `scale`x (nearest), with
    optional row labels on the left and column labels on top."""
    if not cells or columns < 1:
        raise ValueError("a grid needs at least one cell and one column")
    images = [tensor_to_pil(c) if isinstance(c, Tensor) else c for c in cells]
    first = next((im for im in images if im is not None), None)
    if first is None:
        raise ValueError("a grid needs at least one image")
    width, height = first.width * scale, first.height * scale
    rows = -(-len(images) // columns)
    font = _font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = max((_text_size(probe, t, font)[0] for t in row_labels or []), default=0)
    label_width = label_width + 2 * padding + 4 if row_labels else 0
    header = max((_text_size(probe, t, font)[1] for t in column_labels or []), default=0)
    header = header + 2 * padding + 4 if column_labels else 0
    canvas = Image.new(
        "RGB",
        (label_width + columns * (width + padding) + padding, header + rows * (height + padding) + padding),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        x = label_width + padding + column * (width + padding)
        y = header + padding + row * (height + padding)
        if image is not None:
            canvas.paste(image.resize((width, height), Image.Resampling.NEAREST), (x, y))
    for row, text in enumerate(row_labels or []):
        y = header + padding + row * (height + padding) + height // 2
        draw.text((padding + 2, y), text, fill=LABEL_COLOR, font=font, anchor="lm")
    for column, text in enumerate(column_labels or []):
        x = label_width + padding + column * (width + padding) + width // 2
        draw.text((x, header // 2), text, fill=LABEL_COLOR, font=font, anchor="mm")
    return canvas


def scaled_frames(frames: Tensor, scale: int = 1) -> list[Image.Image]:
    """Frames [N, 3, H, W] in [-1, 1] -> PIL images scaled up `scale`x (nearest)."""
    images = [tensor_to_pil(frame) for frame in frames]
    if scale == 1:
        return images
    return [im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) for im in images]


def save_gif(frames: Sequence[Image.Image], path: Path, fps: float = 12.0, boomerang: bool = False) -> Path:
    """An endlessly looping GIF; `boomerang` plays the frames forward then backward."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    sequence = list(frames)
    if boomerang and len(sequence) > 2:
        sequence = sequence + sequence[-2:0:-1]
    buffer = io.BytesIO()
    sequence[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=sequence[1:],
        duration=max(20, round(1000 / fps)),
        loop=0,
        disposal=1,
    )
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def save_mp4(frames: Sequence[Image.Image], path: Path, fps: float = 12.0) -> tuple[Path | None, str]:
    """Write an H.264 MP4 with imageio[ffmpeg] or PyAV, whichever is installed.

    Returns (path, "") on success, or (None, a one-line reason) when no encoder is available or
    every installed one failed (the reason then names each failure).
    """
    if not frames:
        raise ValueError("an MP4 needs at least one frame")
    array = np.stack([np.asarray(frame.convert("RGB")) for frame in frames])
    if array.shape[1] % 2 or array.shape[2] % 2:  # H.264 needs even sides
        array = np.pad(array, ((0, 0), (0, array.shape[1] % 2), (0, array.shape[2] % 2), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writers = {"imageio-ffmpeg": _write_mp4_imageio, "PyAV": _write_mp4_torchvision}
    failures = []
    for name, writer in writers.items():
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            temporary = Path(scratch) / path.name
            try:
                written = writer(array, temporary, fps)
            except Exception as error:  # an installed but broken encoder: say so, try the next one
                failures.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
                continue
            if written and temporary.is_file() and temporary.stat().st_size > 0:
                temporary.replace(path)
                return path, ""
            if written:
                failures.append(f"{name}: wrote an empty file")
    if failures:
        return None, "MP4 skipped: the video encoder failed (" + "; ".join(failures) + ")"
    return None, MP4_UNAVAILABLE


def _write_mp4_imageio(array: np.ndarray, path: Path, fps: float) -> bool:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401 (the plugin imageio needs for MP4)
    except ImportError:
        return False
    imageio.mimwrite(path, list(array), fps=fps, codec="libx264", macro_block_size=1)
    return True


def _write_mp4_torchvision(array: np.ndarray, path: Path, fps: float) -> bool:
    try:
        import av  # noqa: F401 (torchvision.io.write_video needs PyAV)
        from torchvision.io import write_video
    except ImportError:
        return False
    write_video(str(path), torch.from_numpy(array), fps=fps)
    return True


__all__ = [
    "MP4_UNAVAILABLE",
    "grid_image",
    "png_bytes",
    "save_gif",
    "save_mp4",
    "save_png",
    "scaled_frames",
    "tensor_to_pil",
]
