"""Latency of a 4-image request on CPU: `gigagan serve` (through gradio_client, HTTP on 127.0.0.1) against
calling the pipeline in-process.

Rows (same model, prompt, threads; seed i for request i):
  pipeline in-process   GigaGANPipeline(prompt, 4, seed=i): PIL images in memory
  studio in-process     Studio.generate(prompt, 4, i, 1.0): the same plus the PNG files with text chunks
                        (what the server runs for /generate before answering)
  served, HTTP          POST /gradio_api/call/generate, then read its event stream (urllib, no client
                        library): the above plus gradio's queue, HTTP and the answer naming the files
  served, gradio_client Client.predict(..., api_name="/generate") with download_files=False: the same
                        through gradio_client (its own fixed cost per call)
  served + downloads    Client.predict(...) as in the README: the above plus fetching the 4 PNGs

Each row: untimed warm-up requests, then --requests timed ones, one at a time; p50 and p95 latency and
images/s (4 images over the mean latency). The model is --checkpoint, else the quickstart preset with
random weights (the same cost as a trained one).

    .venv/bin/python benchmarks/bench_serve.py                 # 30 requests per row
    .venv/bin/python benchmarks/bench_serve.py --quick         # 5 requests per row
    .venv/bin/python benchmarks/bench_serve.py --checkpoint runs/demo --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench_common import write_result

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "bench_serve.json"
QUICK_OUTPUT = BENCH_DIR / "results" / "bench_serve.quick.json"
PROMPT = "a large red circle in the center on a blue background"
IMAGES = 4


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation between closest ranks)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(request: Callable[[int], Any], warmup: int, count: int) -> dict[str, Any]:
    """Latencies of `count` sequential requests (seed i for request i) after `warmup` untimed ones."""
    for index in range(warmup):
        request(10_000 + index)
    times = []
    for index in range(count):
        start = time.perf_counter()
        request(index)
        times.append(time.perf_counter() - start)
    mean = statistics.fmean(times)
    return {
        "p50_ms": percentile(times, 50) * 1000,
        "p95_ms": percentile(times, 95) * 1000,
        "mean_ms": mean * 1000,
        "images_per_s": IMAGES / mean,
        "times_s": times,
    }


def generate_call(client: Any, seed: int) -> Any:
    return client.predict(PROMPT, IMAGES, seed, False, 1.0, api_name="/generate")


def call_http(url: str, seed: int) -> str:
    """One /generate request over gradio's plain HTTP API: POST the values, read the answer's event stream."""
    body = json.dumps({"data": [PROMPT, IMAGES, seed, False, 1.0]}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/generate", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/generate/{event}", timeout=60) as response:
        answer = response.read().decode()
    if "event: complete" not in answer:
        raise RuntimeError(f"the server did not answer with images: {answer[:300]}")
    return answer


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), or "unknown"."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")


def random_quickstart(folder: Path) -> Path:
    import torch

    from gigagan import get_preset
    from gigagan.models import Generator

    torch.manual_seed(0)
    Generator(get_preset("quickstart").generator).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="model to serve (default: random-weight quickstart preset)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per row first")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, in-process and in the server")
    parser.add_argument("--quick", action="store_true", help="5 timed requests per row, 1 warm-up")
    parser.add_argument("--output", type=Path, help="JSON result file")
    args = parser.parse_args()
    count, warmup = (5, 1) if args.quick else (args.requests, args.warmup)
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    os.environ.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")

    import torch
    from gradio import __version__ as gradio_version
    from gradio_client import Client

    from gigagan.inference import GigaGANPipeline
    from gigagan.web.process import start_server
    from gigagan.web.service import Studio

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        checkpoint = Path(args.checkpoint) if args.checkpoint else random_quickstart(Path(scratch) / "model")
        pipe = GigaGANPipeline.from_pretrained(checkpoint, device="cpu")
        studio = Studio(pipe, max_queue=1, root=Path(scratch) / "studio")
        rows: dict[str, dict[str, Any]] = {}
        rows["pipeline in-process"] = measure(lambda seed: pipe(PROMPT, IMAGES, seed=seed), warmup, count)
        rows["studio in-process"] = measure(lambda seed: studio.generate(PROMPT, IMAGES, seed, 1.0), warmup, count)
        env = {"OMP_NUM_THREADS": str(args.threads)}
        server = start_server(checkpoint, Path(scratch) / "serve.log", "--device", "cpu", env=env)
        try:
            client = Client(server.url, verbose=False, download_files=Path(scratch) / "downloads")
            remote = Client(server.url, verbose=False, download_files=False)
            rows["served, HTTP"] = measure(lambda seed: call_http(server.url, seed), warmup, count)
            rows["served, gradio_client"] = measure(lambda seed: generate_call(remote, seed), warmup, count)
            rows["served + downloads"] = measure(lambda seed: generate_call(client, seed), warmup, count)
            rows["served + downloads"]["server_rss_mb"] = server.rss_mb()
        finally:
            server.stop()

    base = rows["pipeline in-process"]["p50_ms"]
    print(f"\n{IMAGES}-image request, {count} timed requests per row, {args.threads} threads, checkpoint {checkpoint}")
    print(f"{'row':<24} {'p50 ms':>9} {'p95 ms':>9} {'images/s':>9} {'p50 vs pipeline':>16}")
    for name, row in rows.items():
        ratio = row["p50_ms"] / base
        print(f"{name:<24} {row['p50_ms']:>9.1f} {row['p95_ms']:>9.1f} {row['images_per_s']:>9.1f} {ratio:>15.2f}x")
    payload = {
        "benchmark": "bench_serve",
        "images_per_request": IMAGES,
        "requests_per_row": count,
        "warmup_per_row": warmup,
        "threads": args.threads,
        "checkpoint": str(args.checkpoint or "random-weight quickstart preset"),
        "prompt": PROMPT,
        "load_average": list(os.getloadavg()),
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "cuda": torch.cuda.is_available()},
        "gradio": gradio_version,
        "python": sys.version.split()[0],
        "rows": rows,
    }
    write_result(output, payload)


if __name__ == "__main__":
    main()
