"""The gradio page over a `Studio`: Generate, Explore (interpolation, style mixing, prompt mixing), Upsample
and Model card tabs. Every action is a named API endpoint (`/generate`, `/interpolate`, `/style_mix`,
`/prompt_mix`, `/upsample`, `/model_card`) that `gradio_client` can call.

Bad input is a `gr.Error` with the library's one-line message, shown in the page; any other failure is
logged on the server and reported as one line, never a traceback (`show_error=False`).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local studio

import gradio as gr

from gigagan.errors import GigaGANError
from gigagan.web.card import card_markdown
from gigagan.web.service import MixGrid, ServerBusy, Studio

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
CSS = """
.pixelated img { image-rendering: pixelated; }
#card-markdown table { width: auto; }
"""
HIDDEN_API = {"api_visibility": "undocumented"}  # UI glue (selection, tab switches): not part of the API
PSI_HELP = "1 = no truncation, 0 = the prompt's mean image; lower is cleaner, higher more varied"


def guarded(function: F) -> F:
    """Turn the library's one-line errors into messages in the page (and in the API's answer); log
    anything else and answer with one line."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ServerBusy as error:
            raise gr.Error(str(error), title="Busy", print_exception=False) from None
        except GigaGANError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as error:
            log.exception("request failed")
            message = f"internal error ({type(error).__name__}); the server's log has the details"
            raise gr.Error(message, print_exception=False) from None

    return wrapper  # type: ignore[return-value]


def psi_slider(elem_id: str) -> gr.Slider:
    return gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation psi", info=PSI_HELP, elem_id=elem_id)


def build_app(studio: Studio) -> gr.Blocks:
    """The page and its endpoints; outputs and gradio's upload cache live under `studio.root`."""
    os.environ["GRADIO_TEMP_DIR"] = str(studio.root / "gradio")
    limits = studio.limits
    card = studio.model_card()
    generator = card["generator"]
    title = (
        f"**GigaGAN studio** · preset `{generator['preset']}` · {generator['resolution']} px · "
        f"weights `{generator['checkpoint_hash']}`"
    )
    with gr.Blocks(title="GigaGAN studio", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown(title)
        upload = upload_input()
        with gr.Tabs(selected="generate") as tabs:
            with gr.Tab("Generate", id="generate"):
                generate_tab(studio, tabs, upload)
            with gr.Tab("Explore", id="explore"):
                explore_tab(studio)
            with gr.Tab("Upsample", id="upsample"):
                upsample_tab(studio, upload)
            with gr.Tab("Model card", id="model"):
                gr.Markdown(card_markdown(card), elem_id="card-markdown")
                card_json = gr.JSON(value=card, label="model card (JSON)")
                refresh = gr.Button("Reload", size="sm")
                refresh.click(guarded(studio.model_card), None, card_json, api_name="model_card")
        gr.Markdown(
            f"Limits: {limits.max_images} images, {limits.max_frames} frames and {limits.max_upload_text} "
            f"uploads per request; {studio.admission.max_queue} requests may wait."
        )
    return app


# ---------------------------------------------------------------------------- tabs


def generate_tab(studio: Studio, tabs: gr.Tabs, upload: gr.File) -> None:
    limits = studio.limits
    with gr.Row():
        with gr.Column(scale=2):
            prompts = gr.Textbox(
                label="Prompts (one per line)",
                lines=3,
                max_lines=limits.max_prompts,
                placeholder="a large red circle in the center on a blue background",
                elem_id="prompts",
            )
            with gr.Row():
                count = gr.Slider(1, limits.max_images, value=4, step=1, label="Images per prompt", elem_id="count")
                seed = gr.Number(value=0, precision=0, label="Seed (image j uses seed + j)", elem_id="seed")
                random_seed = gr.Checkbox(value=False, label="Random seed", elem_id="random-seed")
            psi = psi_slider("psi")
            run = gr.Button("Generate", variant="primary", elem_id="generate-button")
        with gr.Column(scale=3):
            gallery = gr.Gallery(
                label="Images (click one, then download it: the PNG carries prompt, seed, psi and checkpoint)",
                columns=4,
                object_fit="contain",
                elem_id="gallery",
                elem_classes="pixelated",
            )
            details = gr.Markdown(label="Details", elem_id="generate-details")
            send = gr.Button("Upsample the selected image", visible=studio.upsampler is not None, elem_id="send")
    selected = gr.State(0)

    def generate(
        prompts: str, num_images: float, seed: float | None, random_seed: bool, truncation_psi: float
    ) -> tuple[list[tuple[str, str]], str, int]:
        result = studio.generate(prompts, num_images, None if random_seed else seed, truncation_psi)
        images = [(str(path), caption) for path, caption in zip(result.paths, result.captions())]
        last = result.seeds[-1] if result.seeds else result.base_seed
        text = (
            f"{len(result.paths)} images · seeds {result.base_seed}..{last} · psi {result.truncation_psi:g} · "
            f"each PNG holds its prompt, seed, psi and checkpoint hash as text chunks"
        )
        return images, text, result.base_seed

    run.click(
        guarded(generate),
        [prompts, count, seed, random_seed, psi],
        [gallery, details, seed],
        api_name="generate",
    )
    prompts.submit(guarded(generate), [prompts, count, seed, random_seed, psi], [gallery, details, seed], **HIDDEN_API)

    def remember(event: gr.SelectData) -> int:
        return int(event.index)

    def send_selected(images: list[Any] | None, index: int) -> tuple[Any, Any]:
        if not images:
            raise gr.Error("generate an image first", print_exception=False)
        item = images[min(max(index, 0), len(images) - 1)]
        path = item[0] if isinstance(item, list | tuple) else item.get("image", item)
        return str(getattr(path, "path", path)), gr.Tabs(selected="upsample")

    gallery.select(remember, None, selected, **HIDDEN_API)
    send.click(send_selected, [gallery, selected], [upload, tabs], **HIDDEN_API)


def upload_input() -> gr.File:
    """The Upsample tab's picture input: a file (checked by the studio), so a non-image gets a clear message."""
    return gr.File(
        label="Picture (PNG, JPEG, WebP, ...)", file_types=["image"], type="filepath", elem_id="upload", render=False
    )


def explore_tab(studio: Studio) -> None:
    limits = studio.limits
    with gr.Accordion("Interpolation between two (prompt, seed) pairs", open=True):
        with gr.Row():
            prompt_a = gr.Textbox(label="Start prompt", elem_id="interp-prompt")
            seed_a = gr.Number(value=0, precision=0, label="Start seed", elem_id="interp-seed")
            prompt_b = gr.Textbox(label="End prompt (empty: the start prompt)", elem_id="interp-to-prompt")
            seed_b = gr.Number(value=1, precision=0, label="End seed", elem_id="interp-to-seed")
        with gr.Row():
            frames = gr.Slider(2, limits.max_frames, value=16, step=1, label="Frames")
            space = gr.Radio(["z", "w"], value="z", label="Space", info="z: slerp z, lerp text; w: lerp w")
            psi = psi_slider("interp-psi")
        run = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
        with gr.Row():
            gif = gr.Image(label="GIF (forth and back)", type="filepath", elem_id="interp-gif")
            strip = gr.Gallery(
                label="Frames", columns=5, height="auto", elem_id="interp-frames", elem_classes="pixelated"
            )

        @functools.wraps(studio.interpolate)  # the API's parameter names are the studio method's
        def interpolate(*values: Any) -> tuple[str, list[str]]:
            result = studio.interpolate(*values)
            return str(result.gif), [str(path) for path in result.frames]

        inputs = [prompt_a, seed_a, prompt_b, seed_b, frames, space, psi]
        run.click(guarded(interpolate), inputs, [gif, strip], api_name="interpolate")

    choices = studio.level_choices()
    mix_accordion(
        "Style mixing: chosen levels from the column seed, the rest from the row seed",
        [
            {"label": "Prompt", "elem_id": "style-prompt"},
            {"value": "0-3", "label": "Row seeds", "elem_id": "style-rows"},
            {"value": "4-7", "label": "Column seeds", "elem_id": "style-columns"},
        ],
        gr.CheckboxGroup(choices, value=studio.default_levels("coarse"), label="Levels from the column", render=False),
        "style",
        studio.style_mix,
    )
    mix_accordion(
        "Prompt mixing: prompt A's layout, prompt B's style on the chosen levels",
        [
            {"label": "Prompt A (coarse levels)", "elem_id": "mix-prompt"},
            {"label": "Prompts B (one per line)", "lines": 2, "elem_id": "mix-fine"},
            {"value": "0-2", "label": "Seeds (one row each)", "elem_id": "mix-seeds"},
        ],
        gr.CheckboxGroup(choices, value=studio.default_levels("middle", "fine"), label="Levels from B", render=False),
        "mix",
        studio.prompt_mix,
    )


def mix_accordion(
    title: str, texts: list[dict[str, Any]], levels: gr.CheckboxGroup, name: str, action: Callable[..., MixGrid]
) -> None:
    """A mixing grid's inputs (text boxes, crossover levels, psi), button and picture; endpoint `/<action>`."""
    with gr.Accordion(title, open=False):
        with gr.Row():
            boxes = [gr.Textbox(**text) for text in texts]
        with gr.Row():
            levels.render()
            psi = psi_slider(f"{name}-psi")
        run = gr.Button("Mix", variant="primary", elem_id=f"{name}-button")
        grid = gr.Image(label="Grid", type="filepath", elem_id=f"{name}-grid")
        legend = gr.Markdown(label="Legend")

        @functools.wraps(action)  # the API's parameter names are the studio method's
        def mix(*values: Any) -> tuple[str, str]:
            result = action(*values)
            return str(result.grid), legend_markdown(result.legend)

        run.click(guarded(mix), [*boxes, levels, psi], [grid, legend], api_name=action.__name__)


def upsample_tab(studio: Studio, upload: gr.File) -> None:
    if studio.upsampler is None:
        gr.Markdown("No upsampler is loaded: start the server with `--upsampler PATH` to upsample here.")
    else:
        scale = studio.upsampler.scale_factor
        gr.Markdown(f"Upsampling {scale}x; pictures larger than a tile are upsampled in seamless tiles.")
    with gr.Row():
        with gr.Column():
            upload.render()
            prompt = gr.Textbox(label="Prompt (optional; empty = unconditional)", elem_id="upsample-prompt")
            seed = gr.Number(value=0, precision=0, label="Seed", elem_id="upsample-seed")
            run = gr.Button("Upsample", variant="primary", elem_id="upsample-button")
        with gr.Column():
            output = gr.Image(label="Upsampled (PNG)", type="filepath", elem_id="upsampled", elem_classes="pixelated")
            details = gr.Markdown(label="Details", elem_id="upsample-details")

    def upsample(image: str | None, prompt: str, seed: float) -> tuple[str, str]:
        result = studio.upsample(image, prompt, seed)
        return str(result.path), f"{result.width}x{result.height} px · {result.tiles}"

    run.click(guarded(upsample), [upload, prompt, seed], [output, details], api_name="upsample")


def legend_markdown(legend: str) -> str:
    return "\n".join(f"- {line}" for line in legend.strip().splitlines())


# ---------------------------------------------------------------------------- serving


def launch(studio: Studio, host: str = "127.0.0.1", port: int = 7860) -> tuple[gr.Blocks, str]:
    """Start serving in background threads; returns the app and its URL. A bounded queue: requests beyond
    the studio's own gate are refused by gradio's queue as well (`max_size`)."""
    app = build_app(studio)
    app.queue(default_concurrency_limit=None, max_size=4 * (studio.admission.max_queue + 1) + 16)
    app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        share=False,
        inbrowser=False,
        max_file_size=studio.limits.max_upload_text,
        css=CSS,
        ssr_mode=False,
    )
    return app, f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve_forever(studio: Studio, host: str, port: int, announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then stop the server and delete the temporary folder."""
    import signal

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = None
    try:
        try:
            app, url = launch(studio, host, port)
        except OSError as error:  # the port is taken or the address is not this machine's
            raise GigaGANError(f"cannot listen on {host}:{port}: {error}") from error
        announce(f"gigagan studio: serving {url} (files in {studio.root}; Ctrl-C stops it)")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if app is not None:
            app.close()
        studio.close()


__all__ = ["CSS", "build_app", "guarded", "launch", "serve_forever"]
