"""The `gigagan` Typer app: every command registered in the order `gigagan --help` lists them, and `main`,
the console script's entry point.

Every user mistake (a GigaGANError, or a bad or unknown option) becomes one line on stderr, starting
with "error:", and exit code 2. Building the app imports no torch: each command imports what it needs
when it runs, so `gigagan --help` is quick.
"""

from __future__ import annotations

import sys

import typer

from gigagan.cli import demo, evaluate, generate, info, serve, train, upsample
from gigagan.errors import GigaGANError

app = typer.Typer(
    name="gigagan",
    help="GigaGAN: fast, controllable text-to-image GANs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("presets")(info.presets)
app.command("info")(info.info)
app.command("train", epilog=train.TRAIN_EXAMPLES)(train.train)
app.command("generate", epilog=generate.GENERATE_EXAMPLES)(generate.generate)
app.command("interpolate", epilog=generate.INTERPOLATE_EXAMPLES)(generate.interpolate_command)
app.command("style-mix", epilog=generate.STYLE_MIX_EXAMPLES)(generate.style_mix_command)
app.command("prompt-mix", epilog=generate.PROMPT_MIX_EXAMPLES)(generate.prompt_mix_command)
app.command("demo", epilog=demo.DEMO_EXAMPLES)(demo.demo)
app.command("train-upsampler", epilog=upsample.TRAIN_UPSAMPLER_EXAMPLES)(upsample.train_upsampler)
app.command("upsample", epilog=upsample.UPSAMPLE_EXAMPLES)(upsample.upsample)
app.command("eval")(evaluate.eval_command)
app.command("serve", epilog=serve.SERVE_EXAMPLES)(serve.serve)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gigagan` console script: always ends with SystemExit (0, or 2 for a user's
    mistake: one line on stderr that starts with "error:")."""
    try:
        result = app(args=argv, standalone_mode=False)
    except GigaGANError as error:
        _fail(str(error))
    except typer.TyperException as error:  # a bad, unknown or missing option (typer's usage errors)
        if type(error).__name__ == "NoArgsIsHelpError":  # `gigagan` alone: typer has printed the help
            sys.exit(getattr(error, "exit_code", 2))
        _fail(_usage_message(error), getattr(error, "exit_code", 2))
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


def _usage_message(error: typer.TyperException) -> str:
    context = getattr(error, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    return error.format_message().rstrip(".") + hint


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)
