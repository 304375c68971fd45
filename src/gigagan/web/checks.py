"""The checks of the studio's request values: each returns the value or raises a one-line GigaGANError that
says what is wrong and what is allowed (the page shows it; the API answers with it)."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from gigagan.config.validation import finite_number
from gigagan.errors import GigaGANError
from gigagan.inference.pipeline import MAX_SEED
from gigagan.inference.upsample import MAX_OUTPUT_PIXELS


@dataclass(frozen=True)
class Limits:
    """The most one request may ask for (the page's sliders stop at the same values)."""

    max_prompts: int = 8
    max_images: int = 16  # prompts x images per prompt
    max_prompt_chars: int = 500
    max_frames: int = 48
    max_grid_seeds: int = 8  # seeds per side of a mixing grid
    max_fine_prompts: int = 4
    max_upload_bytes: int = 10 * 1024 * 1024
    max_output_pixels: int = MAX_OUTPUT_PIXELS

    @property
    def max_upload_text(self) -> str:
        return f"{self.max_upload_bytes // (1024 * 1024)}mb"


def check_psi(value: Any) -> float:
    """A finite truncation psi: the check the CLI's --truncation-psi makes (`finite_number`)."""
    return finite_number(value, "truncation psi")


def check_int(value: Any, name: str, minimum: int, maximum: int) -> int:
    """An integer (a float with no fraction counts) between minimum and maximum."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        raise GigaGANError(f"{name} must be a whole number, got {value!r}")
    if not minimum <= int(number) <= maximum:
        raise GigaGANError(f"{name} must be between {minimum} and {maximum}, got {int(number)}")
    return int(number)


def check_seed(value: Any, name: str = "seed", count: int = 1) -> int:
    return check_int(value, name, 0, MAX_SEED - count)


def random_seed() -> int:
    """A fresh seed for "random": small enough to type back in."""
    return secrets.randbelow(2**32)


def split_prompts(text: Any, limits: Limits, name: str = "prompts") -> list[str]:
    """The non-empty lines of `text` (one prompt per line), each within the length limit."""
    if not isinstance(text, str):
        raise GigaGANError(f"{name} must be text, got {type(text).__name__}")
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise GigaGANError(f"no prompts given: type at least one prompt in {name}")
    if len(prompts) > limits.max_prompts:
        raise GigaGANError(f"at most {limits.max_prompts} {name} per request, got {len(prompts)}")
    long = next((p for p in prompts if len(p) > limits.max_prompt_chars), None)
    if long is not None:
        raise GigaGANError(f"a prompt may have at most {limits.max_prompt_chars} characters, got {len(long)}")
    return prompts


def single_prompt(text: Any, limits: Limits, name: str = "prompt") -> str:
    prompts = split_prompts(text, limits, name)
    if len(prompts) != 1:
        raise GigaGANError(f"{name} must be a single line, got {len(prompts)} lines")
    return prompts[0]


def parse_seed_list(text: Any, name: str, limits: Limits) -> list[int]:
    """'0,1,5', '0-3' (inclusive) or a mix -> at most `max_grid_seeds` non-negative seeds."""
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if part and match is None:
            raise GigaGANError(f"{name}: expected seeds like 0,1,2 or 0-3, got {str(text)!r}")
        if match:
            low, high = int(match[1]), int(match[2] or match[1])
            if high < low or high - low >= limits.max_grid_seeds:
                raise GigaGANError(f"{name}: a range must go up, at most {limits.max_grid_seeds} seeds")
            seeds.extend(range(low, high + 1))
    if not seeds:
        raise GigaGANError(f"{name}: no seeds given")
    if len(seeds) > limits.max_grid_seeds:
        raise GigaGANError(f"{name}: at most {limits.max_grid_seeds} seeds, got {len(seeds)}")
    return [check_seed(seed, name) for seed in seeds]


__all__ = [
    "Limits",
    "check_int",
    "check_psi",
    "check_seed",
    "parse_seed_list",
    "random_seed",
    "single_prompt",
    "split_prompts",
]
