"""The `gigagan` command line: thin commands that parse and check their options and call the library.

- `application`: the Typer app and `main` (the console script; `python -m gigagan.cli` too);
- `options`: option declarations and the parsers that check option values;
- `info` (presets, info), `train`, `generate` (generate, interpolate, style-mix, prompt-mix), `demo`,
  `upsample` (train-upsampler, upsample), `evaluate` (eval): the commands.
"""

from gigagan.cli.application import app, main

__all__ = ["app", "main"]
