"""The studio in a real browser: Playwright drives Debian's Chromium (headless, /usr/bin/chromium; no
browser download) against the served tiny model. Types a prompt, generates, checks the gallery's image
is the one the API returns for the same prompt and seed, moves the truncation slider, runs the
interpolation and upsample tabs, and takes a screenshot of each tab (into $GIGAGAN_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from studio_helpers import CHROMIUM, PROMPT, gallery_paths, launch_chromium, local_only, pixels, text_chunks

from gigagan.web.process import ServerProcess

TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium (make install adds it)"
)


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    target = os.environ.get("GIGAGAN_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def gallery_sources(page: Any, selector: str, count: int) -> list[str]:
    """The src of the first `count` thumbnails of a gallery, once it shows that many."""
    images = page.locator(f"{selector} img")
    images.nth(count - 1).wait_for(state="visible", timeout=TIMEOUT_MS)
    return [images.nth(i).get_attribute("src") for i in range(count)]


def fetched(page: Any, source: str) -> bytes:
    """The file behind an image in the page, as the browser downloads it."""
    response = page.request.get(source)
    assert response.ok, source
    return response.body()


def fetched_pixels(page: Any, source: str) -> Any:
    return pixels(fetched(page, source))


def test_browser_generate_slider_interpolate_upsample(server: ServerProcess, client: Any, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            refused = local_only(page)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server.url)

            # Generate: a prompt, seed 7, psi 1 -> the API's images for the same values
            page.locator("#prompts textarea").fill(PROMPT)
            page.locator("#seed input").fill("7")
            page.locator("#count input[type=number]").fill("2")
            page.locator("#count input[type=number]").press("Enter")
            page.locator("#generate-button").click()
            shown = gallery_sources(page, "#gallery", 2)
            images, _, seed = client.predict(PROMPT, 2, 7, False, 1.0, api_name="/generate")
            assert int(seed) == 7
            for source, path in zip(shown, gallery_paths(images)):
                assert (fetched_pixels(page, source) == pixels(path)).all()
            chunks = text_chunks(fetched(page, shown[1]))  # the download is the PNG the CLI writes
            assert chunks["prompt"] == PROMPT and chunks["seed"] == "8" and chunks["truncation_psi"] == "1"
            screenshot(page, "generate", tmp_path)

            # move the truncation slider down to 0.5 (ten steps of 0.05) and generate again
            slider = page.locator("#psi input[type=range]")
            slider.focus()
            for _ in range(10):
                slider.press("ArrowLeft")
            assert float(page.locator("#psi input[type=number]").input_value()) == pytest.approx(0.5)
            page.locator("#generate-button").click()
            page.wait_for_function(
                "first => document.querySelector('#gallery img')?.getAttribute('src') !== first", arg=shown[0]
            )
            truncated = gallery_sources(page, "#gallery", 2)
            images, _, _ = client.predict(PROMPT, 2, 7, False, 0.5, api_name="/generate")
            assert (fetched_pixels(page, truncated[0]) == pixels(gallery_paths(images)[0])).all()
            assert not (fetched_pixels(page, truncated[0]) == fetched_pixels(page, shown[0])).all()

            # Upsample: send the first generated image over, upsample it
            page.locator("#gallery img").first.click()
            page.locator("#send").click()
            page.locator("#upsample-button").wait_for(state="visible")
            page.locator("#upsample-button").click()
            upsampled = page.locator("#upsampled img")
            upsampled.wait_for(state="visible")
            assert fetched_pixels(page, upsampled.get_attribute("src")).shape == (128, 128, 3)
            assert "128x128" in page.locator("#upsample-details").inner_text()
            screenshot(page, "upsample", tmp_path)

            # Explore: an interpolation between two seeds of the prompt
            page.get_by_role("tab", name="Explore").click()
            page.locator("#interp-prompt textarea").fill(PROMPT)
            page.locator("#interpolate-button").click()
            page.locator("#interp-gif img").wait_for(state="visible")
            frames = gallery_sources(page, "#interp-frames", 16)
            assert len(set(frames)) == 16
            screenshot(page, "explore", tmp_path)

            # a bad value: the message shows in the page, no traceback
            page.locator("#interp-prompt textarea").fill("")
            page.locator("#interpolate-button").click()
            message = page.get_by_text("no prompts given")
            message.first.wait_for(state="visible")
            assert "Traceback" not in page.content()

            page.get_by_role("tab", name="Model card").click()
            page.get_by_text("upsampler-tiny").first.wait_for(state="visible")
            screenshot(page, "model-card", tmp_path)
            assert refused == [], f"the page tried to reach other hosts: {refused[:5]}"
        finally:
            browser.close()
