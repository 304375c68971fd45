"""`gigagan serve`: the web studio (a gradio page and API) over a loaded model; see `gigagan.web`."""

from __future__ import annotations

from typing import Annotated

import typer

from gigagan.cli.options import CheckpointOption, DeviceOption, DtypeOption
from gigagan.errors import GigaGANError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

SERVE_EXAMPLES = """
Examples:

  make serve                                            # train or reuse the demo model, then serve it

  gigagan serve --checkpoint runs/demo                  # http://127.0.0.1:7860, this machine only

  gigagan serve --checkpoint runs/demo --upsampler runs/upsampler --port 8000 --max-queue 4
"""


def serve(
    checkpoint: CheckpointOption,
    upsampler: Annotated[
        str | None, typer.Option(help="Upsampler checkpoint: enables the Upsample tab and endpoint.")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the studio to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 7860,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    max_queue: Annotated[
        int, typer.Option(help="Requests that may wait behind the running one; more are answered 'busy'.")
    ] = 16,
) -> None:
    """Serve a web studio for a trained model: Generate, Explore (interpolation, style and prompt mixing),
    Upsample and Model card tabs, each action also a gradio API endpoint. Runs until Ctrl-C."""
    if not 1 <= port <= 65535:
        raise GigaGANError(f"--port must be between 1 and 65535, got {port}")
    if max_queue < 0:
        raise GigaGANError(f"--max-queue must be at least 0, got {max_queue}")
    if not host.strip():
        raise GigaGANError("--host must not be empty")
    try:
        from gigagan.web.app import serve_forever
    except ImportError as error:
        raise GigaGANError(
            f"gigagan serve needs gradio ({error}); install it with: pip install 'gigagan[web]'"
        ) from error
    from gigagan.device import resolve_device
    from gigagan.inference.pipeline import resolve_dtype
    from gigagan.web.service import Studio

    resolve_device(device)
    resolve_dtype(dtype)
    studio = Studio.load(checkpoint, upsampler, device=device, dtype=dtype, max_queue=max_queue)
    if host not in LOCAL_HOSTS:
        typer.echo(f"warning: listening on {host}: anyone who can reach this address can use the studio", err=True)
    serve_forever(studio, host, port, announce=lambda line: typer.echo(line))
