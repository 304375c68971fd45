"""Load: 50 concurrent API requests against the served tiny model (--max-queue 4). Each gets its images or
the clean "busy, try again" answer within LOAD_SECONDS; the server stays up and its memory stays bounded."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from studio_helpers import PROMPT, gallery_paths, is_busy

from gigagan.web.process import ServerProcess

REQUESTS = 50
IMAGES_PER_REQUEST = 4
LOAD_SECONDS = 60.0  # all 50 answers within this (2 s on an idle 2-core CPU)
RSS_GROWTH_MB = 300.0  # the server's resident memory may grow at most this much under the load


def one_request(client: Any, index: int) -> tuple[str, str]:
    """("images", count) or ("busy", message) or ("error", message)."""
    try:
        images, _, _ = client.predict(PROMPT, IMAGES_PER_REQUEST, index, False, 1.0, api_name="/generate")
    except Exception as error:  # the busy answer arrives as gradio_client's AppError (or QueueError)
        return ("busy" if is_busy(error) else "error", f"{type(error).__name__}: {error}")
    return "images", str(len(gallery_paths(images)))


def test_fifty_concurrent_requests_get_images_or_busy(client: Any, server: ServerProcess) -> None:
    client.predict(PROMPT, 1, 0, False, 1.0, api_name="/generate")  # warm: the prompt's mean w is cached
    rss_before = server.rss_mb()
    start = time.monotonic()
    with ThreadPoolExecutor(REQUESTS) as pool:
        futures = [pool.submit(one_request, client, index) for index in range(REQUESTS)]
        outcomes = [future.result(timeout=LOAD_SECONDS) for future in futures]
    elapsed = time.monotonic() - start
    kinds = [kind for kind, _ in outcomes]
    assert elapsed < LOAD_SECONDS
    assert "error" not in kinds, [detail for kind, detail in outcomes if kind == "error"][:3]
    assert all(detail == str(IMAGES_PER_REQUEST) for kind, detail in outcomes if kind == "images")
    assert kinds.count("images") >= 1
    assert server.alive()
    card = client.predict(api_name="/model_card")  # still answering after the burst
    assert card["generator"]["preset"] == "tiny"
    rss_after = server.rss_mb()
    assert rss_after - rss_before < RSS_GROWTH_MB, f"server RSS grew {rss_after - rss_before:.0f} MB under load"
    print(
        f"load: {kinds.count('images')} answered with images, {kinds.count('busy')} busy, in {elapsed:.1f} s; "
        f"server RSS {rss_before:.0f} -> {rss_after:.0f} MB"
    )
