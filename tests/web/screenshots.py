"""Screenshots of each studio tab for the docs: serve a model, drive Debian's Chromium (headless) through
Generate, Explore, Upsample and Model card, and write one PNG per tab.

    .venv/bin/python tests/web/screenshots.py --checkpoint runs/demo --out docs/web
    .venv/bin/python tests/web/screenshots.py --checkpoint runs/demo --upsampler runs/upsampler --out docs/web

Without --upsampler a randomly initialised tiny upsampler is served (its output is noise; the tab's layout
is what the screenshot shows).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

PROMPTS = (
    "a large red circle in the center on a blue background\n"
    "a small yellow square at the top left on a purple background"
)
TIMEOUT_MS = 120_000


def random_upsampler(folder: Path) -> Path:
    import torch

    from gigagan.config.upsampler import get_upsampler_preset
    from gigagan.models.upsampler import Upsampler

    torch.manual_seed(0)
    Upsampler(get_upsampler_preset("upsampler-tiny").upsampler).save_pretrained(folder)
    return folder


def take(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright
    from studio_helpers import launch_chromium

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)

        def shot(name: str) -> None:
            path = out / f"studio-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)

        page.locator("#prompts textarea").fill(PROMPTS)
        page.locator("#psi input[type=number]").fill("0.8")
        page.locator("#psi input[type=number]").press("Enter")
        page.locator("#generate-button").click()
        page.locator("#gallery img").nth(7).wait_for(state="visible")
        page.get_by_text("psi 0.8").wait_for(state="visible")
        shot("generate")

        page.locator("#gallery img").first.click()
        page.locator("#send").click()
        page.locator("#upsample-button").click()
        page.locator("#upsampled img").wait_for(state="visible")
        shot("upsample")

        page.get_by_role("tab", name="Explore").click()
        page.locator("#interp-prompt textarea").fill("a small red circle at the top left on a blue background")
        page.locator("#interp-to-prompt textarea").fill(
            "a large yellow square at the bottom right on a purple background"
        )
        page.locator("#interp-to-seed input").fill("0")
        page.locator("#interpolate-button").click()
        page.locator("#interp-gif img").wait_for(state="visible")
        page.get_by_text("Style mixing:").click()
        page.locator("#style-prompt textarea").fill("a large red circle in the center on a blue background")
        page.locator("#style-button").click()
        page.locator("#style-grid img").wait_for(state="visible")
        shot("explore")

        page.get_by_role("tab", name="Model card").click()
        page.get_by_text("weights SHA-256").first.wait_for(state="visible")
        shot("model-card")
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--upsampler")
    parser.add_argument("--out", type=Path, default=Path("docs/web"))
    args = parser.parse_args()
    from gigagan.web.process import start_server

    with tempfile.TemporaryDirectory(prefix="studio-shots-") as scratch:
        upsampler = args.upsampler or str(random_upsampler(Path(scratch) / "upsampler"))
        server = start_server(args.checkpoint, Path(scratch) / "serve.log", "--upsampler", upsampler, "--device", "cpu")
        try:
            for path in take(server.url, args.out):
                print(f"wrote {path}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
