"""Values and helpers shared by the web studio tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PROMPT = "a large red circle in the center on a blue background"
OTHER_PROMPT = "a small green cross at the top left on a white background"
SERVER_MAX_QUEUE = 4
BUSY_WORDS = ("busy, try again", "queue is full")  # the studio's answer, or gradio's own queue's
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (make install adds it); Playwright downloads nothing
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, under Playwright's control."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def local_only(page: Any) -> list[str]:
    """Let the page reach 127.0.0.1 only: any other request is aborted and its URL added to the returned list."""
    refused: list[str] = []

    def route(handle: Any) -> None:
        url = handle.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            handle.continue_()
        else:
            refused.append(url)
            handle.abort()

    page.route("**/*", route)
    return refused


def gallery_paths(value: Any) -> list[Path]:
    """The local files of a Gallery output as gradio_client returns it."""
    paths = []
    for item in value:
        image = item[0] if isinstance(item, list | tuple) else item
        image = image.get("image", image) if isinstance(image, dict) else image
        image = image.get("path", image) if isinstance(image, dict) else image
        paths.append(Path(str(image)))
    return paths


def _open(path_or_bytes: Path | bytes) -> Image.Image:
    return Image.open(io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes)


def pixels(path_or_bytes: Path | bytes) -> np.ndarray:
    """A picture's RGB pixels (uint8 [H, W, 3])."""
    with _open(path_or_bytes) as image:
        return np.asarray(image.convert("RGB"))


def text_chunks(path_or_bytes: Path | bytes) -> dict[str, str]:
    """A PNG's text chunks."""
    with _open(path_or_bytes) as image:
        image.load()
        return dict(getattr(image, "text", {}))


def is_busy(error: BaseException) -> bool:
    return any(word in str(error).lower() for word in BUSY_WORDS)
