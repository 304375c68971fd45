"""Latent-space tools (paper figures 6-8): interpolation, style mixing and prompt mixing.

Levels are pyramid levels, coarsest first (4x4, 8x8, ...). Each level owns a contiguous block of
w+ rows (`Generator.synthesis.ws_slices()`) and reads its own text tokens when per-level tokens
[B, num_levels, L, D] are given, so mixing is a matter of choosing, per level, whose w rows and
text tokens it reads. Because the pyramid is built in StyleGAN2's skip form, a level's image never
depends on finer levels: mixing that leaves the coarse levels alone leaves the low-resolution
images exactly as they were.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from gigagan.errors import GigaGANError
from gigagan.inference.pipeline import GigaGANPipeline, seed_to_z
from gigagan.models.text import TextEncoding

Space = Literal["z", "w"]
LEVEL_GROUPS = ("coarse", "middle", "fine")


# ---------------------------------------------------------------------------- levels


def level_groups(num_levels: int) -> dict[str, list[int]]:
    """Split the levels (coarsest first) into three near-equal groups: coarse, middle, fine.

    4 levels (32px): coarse 4-8, middle 16, fine 32; 5 levels (64px): coarse 4-8, middle 16-32, fine 64.
    """
    parts = np.array_split(np.arange(num_levels), 3)
    return {name: [int(i) for i in part] for name, part in zip(LEVEL_GROUPS, parts)}


def parse_levels(spec: str | Sequence[int], resolutions: Sequence[int]) -> list[int]:
    """Level indices from "coarse", "middle", "fine", resolutions ("16,32") or a mix ("middle,fine").

    A sequence of ints is taken as level indices.
    """
    if not isinstance(spec, str):
        levels = sorted({int(i) for i in spec})
        if any(not 0 <= i < len(resolutions) for i in levels):
            raise GigaGANError(f"level indices must be between 0 and {len(resolutions) - 1}, got {list(spec)}")
        return levels
    groups = level_groups(len(resolutions))
    levels: set[int] = set()
    for part in spec.replace("+", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in groups:
            levels.update(groups[part])
        elif part.isdigit() and int(part) in resolutions:
            levels.add(list(resolutions).index(int(part)))
        else:
            raise GigaGANError(
                f"unknown level {part!r}: use coarse, middle, fine or resolutions among {list(resolutions)}"
            )
    if not levels:
        raise GigaGANError("no levels selected")
    return sorted(levels)


def ws_rows(pipe: GigaGANPipeline, levels: Sequence[int]) -> list[int]:
    """The w+ rows the given levels read."""
    slices = pipe.generator.synthesis.ws_slices()
    return [row for level in levels for row in range(slices[level].start, slices[level].stop)]


# ---------------------------------------------------------------------------- interpolation


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation along the last dimension; t [N] -> [N, D] for a, b [D] (exact endpoints)."""
    a, b, t = a.float(), b.float(), t.float()[:, None]
    cos = (a / a.norm() * b / b.norm()).sum().clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:  # (nearly) parallel: plain lerp
        path = a + t * (b - a)
    else:
        path = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return torch.where(t == 0, a, torch.where(t == 1, b, path))


def lerp_text(a: TextEncoding, b: TextEncoding, t: Tensor) -> TextEncoding:
    """Interpolate single-prompt encodings a, b ([1, ...]) at N points; token masks are the union
    between the endpoints and each prompt's own at t = 0 and t = 1."""
    weight = t.float().to(a.local.device)
    local = torch.lerp(a.local.expand(len(t), -1, -1), b.local, weight[:, None, None])
    global_ = torch.lerp(a.global_.expand(len(t), -1), b.global_, weight[:, None])
    mask = (a.mask | b.mask).expand(len(t), -1).clone()
    mask[weight == 0] = a.mask[0]
    mask[weight == 1] = b.mask[0]
    return TextEncoding(local=local, mask=mask, global_=global_)


def interpolate(
    pipe: GigaGANPipeline,
    start: tuple[str, int],
    end: tuple[str, int],
    num_frames: int = 24,
    space: Space = "z",
    truncation_psi: float = 1.0,
    batch_size: int = 16,
) -> Tensor:
    """Frames [num_frames, 3, H, W] in [-1, 1] from (prompt, seed) `start` to `end`.

    space "z": slerp z, lerp the text encodings (t_local, t_global), map each frame;
    space "w": lerp w between the two endpoint images, lerp t_local.
    With the same seed on both ends this is prompt interpolation; with the same prompt, latent
    interpolation. The first and last frames are the endpoint images.
    """
    if num_frames < 1:
        raise GigaGANError(f"number of frames must be at least 1, got {num_frames}")
    if space not in ("z", "w"):
        raise GigaGANError(f"interpolation space must be z or w, got {space!r}")
    prompts = pipe.check_prompts([start[0], end[0]])
    text_a, text_b = pipe.encode(prompts[:1]), pipe.encode(prompts[1:])
    z = seed_to_z([start[1], end[1]], pipe.generator.config.z_dim)  # on the CPU, like the frame times
    times = torch.linspace(0, 1, num_frames) if num_frames > 1 else torch.zeros(1)
    truncate = truncation_psi != 1.0
    centers = pipe.mean_w(prompts) if truncate else None
    if space == "w":
        w_a = pipe.map_w(z[:1].to(pipe.device), text_a, prompts[:1], truncation_psi)
        w_b = pipe.map_w(z[1:].to(pipe.device), text_b, prompts[1:], truncation_psi)
    frames = []
    for chunk in torch.split(times, batch_size):
        text = lerp_text(text_a, text_b, chunk)
        weight = chunk.to(pipe.device)[:, None]
        if space == "w":
            w = torch.lerp(w_a.expand(len(chunk), -1), w_b, weight)
        else:
            center = torch.lerp(centers[:1].expand(len(chunk), -1), centers[1:], weight) if truncate else None
            w = pipe.map_w(slerp(z[0], z[1], chunk).to(pipe.device), text, [], truncation_psi, center=center)
        frames.append(pipe.synthesize(pipe.broadcast(w), text.local, text.mask)[0].cpu())
    return torch.cat(frames)


# ---------------------------------------------------------------------------- style mixing


@dataclass
class StyleMix:
    """Style-mixing results: cell [r, c] takes the mixed levels from column seed c, the rest from row seed r."""

    rows: Tensor  # [R, 3, H, W], plain images of the row seeds
    columns: Tensor  # [C, 3, H, W], plain images of the column seeds
    cells: Tensor  # [R, C, 3, H, W]
    levels: list[int]


def style_mix(
    pipe: GigaGANPipeline,
    prompt: str,
    row_seeds: Sequence[int],
    column_seeds: Sequence[int],
    levels: str | Sequence[int] = "coarse",
    truncation_psi: float = 1.0,
    batch_size: int = 16,
) -> StyleMix:
    """Mix w+ rows between seeds (paper fig. 6): each cell reads `levels` from its column seed's w and
    every other level from its row seed's w. The same seed on both sides gives the plain image."""
    if not row_seeds or not column_seeds:
        raise GigaGANError("style mixing needs at least one row seed and one column seed")
    prompt = pipe.check_prompts(prompt)[0]
    chosen = parse_levels(levels, pipe.level_resolutions)
    rows = ws_rows(pipe, chosen)
    seeds = list(dict.fromkeys([*row_seeds, *column_seeds]))
    text = pipe.encode([prompt])
    w = {
        seed: row_w
        for seed, row_w in zip(
            seeds, pipe.map_w(pipe.z(seeds), text.expand(len(seeds)), [prompt] * len(seeds), truncation_psi)
        )
    }
    plain = {seed: image for seed, image in zip(seeds, _render(pipe, [w[s] for s in seeds], text, batch_size))}
    mixed = []
    for row_seed in row_seeds:
        for column_seed in column_seeds:
            ws = pipe.broadcast(w[row_seed][None]).clone()
            ws[:, rows] = w[column_seed]
            mixed.append(ws[0])
    cells = _render_ws(pipe, mixed, text, batch_size)
    return StyleMix(
        rows=torch.stack([plain[s] for s in row_seeds]),
        columns=torch.stack([plain[s] for s in column_seeds]),
        cells=cells.view(len(row_seeds), len(column_seeds), *cells.shape[1:]),
        levels=chosen,
    )


# ---------------------------------------------------------------------------- prompt mixing


@dataclass
class PromptMix:
    """Prompt-mixing results for coarse prompt A and fine prompts B_k over seeds s."""

    coarse: Tensor  # [S, 3, H, W], plain images of prompt A
    fine: Tensor  # [K, S, 3, H, W], plain images of each prompt B_k
    mixed: Tensor  # [K, S, 3, H, W], A's w and t_local on the coarse levels, B_k's on `levels`
    levels: list[int]
    pyramids: list[Tensor] | None = None  # the mixed images' pyramids [K*S, 3, r, r], finest first


def prompt_mix(
    pipe: GigaGANPipeline,
    coarse_prompt: str,
    fine_prompts: str | Sequence[str],
    seeds: Sequence[int],
    levels: str | Sequence[int] = "middle,fine",
    truncation_psi: float = 1.0,
    batch_size: int = 16,
    keep_pyramids: bool = False,
) -> PromptMix:
    """Mix prompts across levels (paper fig. 8): with one z per seed, `levels` take prompt B's w rows
    and text tokens, every other level prompt A's, so A's layout stays while B restyles it."""
    if not seeds:
        raise GigaGANError("prompt mixing needs at least one seed")
    fine_prompts = [fine_prompts] if isinstance(fine_prompts, str) else list(fine_prompts)
    if not fine_prompts:
        raise GigaGANError("prompt mixing needs at least one fine prompt")
    prompts = pipe.check_prompts([coarse_prompt, *fine_prompts])
    chosen = parse_levels(levels, pipe.level_resolutions)
    rows = ws_rows(pipe, chosen)
    z = pipe.z(seeds)
    count = len(seeds)
    texts = [pipe.encode([p]) for p in prompts]
    ws = [pipe.map_w(z, text.expand(count), [p] * count, truncation_psi) for p, text in zip(prompts, texts)]
    coarse = _render(pipe, list(ws[0]), texts[0], batch_size)
    fine = torch.stack([_render(pipe, list(w), text, batch_size) for w, text in zip(ws[1:], texts[1:])])
    mixed_ws, mixed_local, mixed_mask = [], [], []
    for w_b, text_b in zip(ws[1:], texts[1:]):
        local = torch.stack([(text_b if level in chosen else texts[0]).local[0] for level in range(pipe.num_levels)])
        mask = torch.stack([(text_b if level in chosen else texts[0]).mask[0] for level in range(pipe.num_levels)])
        for index in range(count):
            row_ws = pipe.broadcast(ws[0][index : index + 1]).clone()
            row_ws[:, rows] = w_b[index]
            mixed_ws.append(row_ws[0])
            mixed_local.append(local)
            mixed_mask.append(mask)
    pyramids: list[list[Tensor]] = []
    for start in range(0, len(mixed_ws), batch_size):
        batch = slice(start, start + batch_size)
        local, mask = torch.stack(mixed_local[batch]), torch.stack(mixed_mask[batch])
        pyramids.append(pipe.synthesize(torch.stack(mixed_ws[batch]), local, mask))
    levels_out = [torch.cat([p[i] for p in pyramids]).cpu() for i in range(pipe.num_levels)]
    mixed = levels_out[0].view(len(prompts) - 1, count, *levels_out[0].shape[1:])
    return PromptMix(coarse, fine, mixed, chosen, levels_out if keep_pyramids else None)


# ---------------------------------------------------------------------------- helpers


def _render(pipe: GigaGANPipeline, w: list[Tensor], text: TextEncoding, batch_size: int) -> Tensor:
    """Images for w vectors [w_dim] sharing one prompt's encoding."""
    return _render_ws(pipe, [pipe.broadcast(row[None])[0] for row in w], text, batch_size)


def _render_ws(pipe: GigaGANPipeline, ws: list[Tensor], text: TextEncoding, batch_size: int) -> Tensor:
    """Images for w+ tensors [num_ws, w_dim] sharing one prompt's encoding."""
    images = []
    for start in range(0, len(ws), batch_size):
        batch = torch.stack(ws[start : start + batch_size])
        shared = text.expand(len(batch))
        images.append(pipe.synthesize(batch, shared.local, shared.mask)[0].cpu())
    return torch.cat(images)


def grid_columns(count: int) -> int:
    """A near-square number of columns for `count` images."""
    return max(1, math.ceil(math.sqrt(count)))


__all__ = [
    "LEVEL_GROUPS",
    "PromptMix",
    "StyleMix",
    "grid_columns",
    "interpolate",
    "lerp_text",
    "level_groups",
    "parse_levels",
    "prompt_mix",
    "slerp",
    "style_mix",
    "ws_rows",
]
