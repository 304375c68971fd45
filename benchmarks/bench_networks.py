"""CPU benchmark of our networks beside the peer `gigagan-pytorch==0.3.0`.

Rows:
  ours-quickstart  our `quickstart` preset as it is (32px, toy CLIP text tower)
  ours-matched     our 64px model matched in trainable parameters to the peer (frozen ViT-B/32 text tower)
  peer             gigagan-pytorch 0.3.0's small text-conditioned 64px model (frozen ViT-B/32 CLIPs),
                   run in its own virtual environment `.bench-venv`

For each row: generator forward (ms/img, text pre-encoded) and one full training step of G and D
(ms/img), each measured in a fresh subprocess so that its peak RSS is that measurement's own.

    python benchmarks/bench_networks.py            # full run (creates .bench-venv if missing)
    python benchmarks/bench_networks.py --quick    # smoke run, a few minutes
    python benchmarks/bench_networks.py --skip-peer

See benchmarks/README.md for what exactly is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bench_common import RESULT_MARKER, all_finite, emit, peak_rss_mb, prompts_for, time_phases

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "bench_networks.json"
QUICK_OUTPUT = BENCH_DIR / "results" / "bench_networks.quick.json"
PEER_VENV = ROOT / ".bench-venv"
PEER_WORKER = BENCH_DIR / "_peer_gigagan_pytorch.py"
PEER_PACKAGES = ["torch==2.14.1", "torchvision==0.29.1", "gigagan-pytorch==0.3.0"]
PEER_PINS = ["torch==2.14.1", "torchvision==0.29.1"]  # pip must never change torch in the peer venv
OURS = ("ours-quickstart", "ours-matched")
ROWS = (*OURS, "peer")
MATCH_TOLERANCE = 0.05
BUSY_LOAD = 0.7  # 1-minute load average above which the machine is not idle enough for timings

MATCHING = (
    "ours-matched vs peer: trainable parameters of G and of D (frozen CLIP towers excluded; ours via "
    "gigagan.models.summary.count_parameters, the peer's as requires_grad parameters) within 5%, "
    "both 64px, both conditioned on a frozen, randomly initialised open_clip ViT-B/32 text tower, "
    "same batch sizes, threads and captions. Not matched: FLOPs, the text-layer widths, losses."
)

OURS_STEP = (
    "The trainer's own loss object (gigagan.training.GigaGANLoss, default LossConfig), captions "
    "tokenized as the trainer does (padding after the batch's last EOT cut off). G phase: "
    "frozen CLIP text tower, learned text layers T, G(z) -> pyramid, D (params frozen) on the fakes "
    "under the right captions (non-saturating loss on all 15 MS-I/O predictions) and, sharing the "
    "trunk pass, under wrong captions (matching-aware), backward, AdamW step. D phase: a fresh G "
    "forward (no grad), D on the fakes, on the reals and (sharing the trunk pass) on the reals under "
    "wrong captions, backward, AdamW step. Not timed: lazy R1 (every 16 steps), EMA; no CLIP "
    "contrastive loss or vision-aided D (no CLIP weights here)."
)
PEER_STEP = (
    "The peer's own trainer: GigaGAN.train_discriminator_step(apply_gradient_penalty=False, "
    "calc_multiscale_loss=True) then GigaGAN.train_generator_step(calc_multiscale_loss=True), as its "
    "GigaGAN.forward calls them. D step: G forward (no grad) on new noise, D on fakes and reals (hinge "
    "+ 0.1 x multiscale hinge + auxiliary reconstruction), then the matching-aware pass (D on fakes "
    "and reals again; meant to use rotated captions, 0.3.0 passes the unrotated ones), AdamW step. "
    "G step: G forward, D forward (hinge + 0.1 x multiscale), backward, then CLIP contrastive loss "
    "(frozen CLIP image tower on the fakes), backward, AdamW step. Every D/G call re-encodes the "
    "captions with the frozen CLIP. Its gradient penalty (every 4th step in its loop) and EMA are off."
)


# ------------------------------------------------------------------------------------------------
# Our models


def matched_config() -> Any:
    """Our 64px model with trainable parameter counts within 5% of the peer's (G 5.59M, D 15.92M).

    Architecture choices mirror the peer's where ours allows it: frozen CLIP ViT-B/32 text tower,
    one learned text layer, 64-d z, 4 mapping layers, 2 adaptive kernels per convolution, channel
    widths halving from 4x4 to 64x64 (peer: 256, 256, 128, 64, 32, 16), attention at 16 and 32 px
    in G and D, and the peer discriminator's widths 256 ... 32. Our text layers run at the CLIP
    width (512) where the peer's project to 64, so G's synthesis is a little narrower at 4x4
    (232 vs 256) and D gets more residual blocks to reach the peer's D size. Every field that
    matters is spelled out (not inherited from a preset), so preset edits do not move this row.
    """
    from gigagan import CLIPConfig, DiscriminatorConfig, GeneratorConfig, ModelConfig, TextEncoderConfig

    text = TextEncoderConfig(
        clip=CLIPConfig(model_name="ViT-B-32"), clip_layer=-2, train_clip=False, num_layers=1, num_heads=8, ff_mult=1
    )
    generator = GeneratorConfig(
        resolution=64,
        z_dim=64,
        w_dim=256,
        mapping_layers=4,
        mapping_lr_multiplier=0.01,
        text=text,
        channels=[232, 128, 64, 32, 16],
        blocks=[1, 1, 1, 1, 1],
        kernels=[2, 2, 2, 2, 2],
        attention=[False, False, True, True, False],
        attention_head_dim=32,
        ff_mult=2,
        kernel_size=3,
    )
    discriminator = DiscriminatorConfig(
        resolution=64,
        channels=[256, 256, 128, 64, 32],
        blocks=[4, 4, 4, 3, 3],
        attention=[False, False, True, True, False],
        text_width=512,
        text_layers=1,
        text_heads=8,
        t_dim=256,
        head_channels=64,
        attention_head_dim=32,
        vision_aided=None,
    )
    config = ModelConfig(generator, discriminator)
    config.validate()
    return config


def build_ours(row: str) -> tuple[Any, Any, Any]:
    """(config, generator, discriminator) of one of our rows, randomly initialised."""
    from gigagan import get_preset
    from gigagan.models import Discriminator, Generator

    config = get_preset("quickstart") if row == "ours-quickstart" else matched_config()
    return config, Generator(config.generator), Discriminator(config.discriminator)


def describe_ours(config: Any, generator: Any, discriminator: Any) -> dict[str, Any]:
    from gigagan.config import config_to_dict
    from gigagan.models.summary import count_parameters

    return {
        "params_g": count_parameters(generator),
        "params_d": count_parameters(discriminator),
        "frozen_params": count_parameters(generator, trainable_only=False)
        - count_parameters(generator)
        + count_parameters(discriminator, trainable_only=False)
        - count_parameters(discriminator),
        "resolution": config.generator.resolution,
        "config": config_to_dict(config),
    }


def measure_ours_forward(row: str, batch: int, warmup: int, iters: int) -> dict[str, Any]:
    """G(z, text) at `batch` under no_grad, text (CLIP + T) encoded once beforehand."""
    import torch

    config, generator, discriminator = build_ours(row)
    generator.eval()
    with torch.no_grad():
        text = generator.encode_text(generator.tokenize(prompts_for(batch)))

    def step() -> dict[str, float]:
        with torch.no_grad():
            generator(torch.randn(batch, config.generator.z_dim), text=text)
        return {}

    timing = time_phases(step, warmup, iters)
    return {**describe_ours(config, generator, discriminator), "batch": batch, **timing}


def measure_ours_train(row: str, batch: int, warmup: int, iters: int) -> dict[str, Any]:
    """One G update and one D update as described in OURS_STEP (the trainer's own loss object)."""
    import torch

    from gigagan.config import LossConfig
    from gigagan.models.text import trim_padding
    from gigagan.training import GigaGANLoss, TrainingBatch, mismatched_indices

    config, generator, discriminator = build_ours(row)
    generator.train()
    discriminator.train()
    g_params = [p for p in generator.parameters() if p.requires_grad]
    d_params = [p for p in discriminator.parameters() if p.requires_grad]
    g_opt = torch.optim.AdamW(g_params, lr=2.5e-3, betas=(0.0, 0.99), weight_decay=0.01)
    d_opt = torch.optim.AdamW(d_params, lr=2.5e-3, betas=(0.0, 0.99), weight_decay=0.01)
    loss = GigaGANLoss(generator, discriminator, LossConfig(), use_vision_aided=False)
    prompts = prompts_for(batch)
    resolution = config.generator.resolution
    generator.tokenize(prompts)  # builds the tokenizer outside the timed steps
    finite: list[bool] = []

    def trainable(params: list[Any], flag: bool) -> None:
        for p in params:
            p.requires_grad_(flag)

    def step() -> dict[str, float]:
        start = time.perf_counter()
        wrong, valid = mismatched_indices(prompts)
        # as the trainer does: padding after the last EOT cut off (exact for the causal CLIP tower)
        tokens, mismatched_tokens = trim_padding(
            generator.tokenize(prompts), generator.tokenize([prompts[i] for i in wrong])
        )
        training_batch = TrainingBatch(
            images=torch.rand(batch, 3, resolution, resolution) * 2 - 1,
            captions=prompts,
            tokens=tokens,
            mismatched_tokens=mismatched_tokens,
            mismatch_valid=valid,
            z=torch.randn(batch, config.generator.z_dim),
            z_discriminator=torch.randn(batch, config.generator.z_dim),
        )
        trainable(d_params, False)
        g_opt.zero_grad(set_to_none=True)
        g_loss, _ = loss.generator_loss(training_batch)
        g_loss.backward()
        g_opt.step()
        middle = time.perf_counter()
        trainable(d_params, True)
        trainable(g_params, False)
        d_opt.zero_grad(set_to_none=True)
        d_loss, _ = loss.discriminator_loss(training_batch, loss.generate_for_discriminator(training_batch))
        d_loss.backward()
        d_opt.step()
        trainable(g_params, True)
        end = time.perf_counter()
        finite.append(all_finite([float(g_loss.detach()), float(d_loss.detach())]))
        return {"g_phase": middle - start, "d_phase": end - middle}

    timing = time_phases(step, warmup, iters)
    return {
        **describe_ours(config, generator, discriminator),
        "batch": batch,
        **timing,
        "losses_finite": all(finite),
    }


def run_ours_worker(args: argparse.Namespace) -> None:
    """Entry point of a child process measuring one of our rows."""
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.measure == "forward":
        result = measure_ours_forward(args.worker, args.batch, args.warmup, args.iters)
    else:
        result = measure_ours_train(args.worker, args.batch, args.warmup, args.iters)
    result["torch_version"] = torch.__version__
    result["peak_rss_mb"] = peak_rss_mb()
    emit(result)


# ------------------------------------------------------------------------------------------------
# The peer's virtual environment


def peer_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def peer_ready(venv: Path) -> bool:
    """True when the peer venv exists and imports gigagan_pytorch and open_clip."""
    python = peer_python(venv)
    if not python.exists():
        return False
    check = subprocess.run(
        [str(python), "-c", "import gigagan_pytorch, open_clip"], capture_output=True, env=child_env(1)
    )
    return check.returncode == 0


def setup_peer(venv: Path) -> None:
    """Create `venv` and install the peer with torch pinned (pip takes torch from local disk)."""
    started = time.perf_counter()
    if not peer_python(venv).exists():
        print(f"creating {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraints = venv / "peer-constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in PEER_PINS))
    print(f"installing {' '.join(PEER_PACKAGES)} into {venv} (torch pinned; takes a few minutes) ...", flush=True)
    subprocess.run(
        [str(peer_python(venv)), "-m", "pip", "install", "-qq", "-c", str(constraints), *PEER_PACKAGES],
        check=True,
    )
    if not peer_ready(venv):
        raise SystemExit(f"{venv}: gigagan_pytorch does not import after installation")
    print(f"peer environment ready in {time.perf_counter() - started:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------
# Running measurements in child processes


def child_env(threads: int) -> dict[str, str]:
    """Environment of every child: fixed thread counts, and no hub downloads."""
    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def run_child(command: list[str], threads: int, timeout: float) -> dict[str, Any]:
    """Run one measurement process and return its result (or an `error` entry)."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, env=child_env(threads), cwd=ROOT, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - started
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER) :])
            result["process_wall_s"] = wall
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
    return {"error": f"exit code {proc.returncode}", "stderr_tail": tail}


def measurement_command(
    row: str, measure: str, batch: int, warmup: int, iters: int, args: argparse.Namespace
) -> list[str]:
    common = ["--measure", measure, "--batch", str(batch), "--warmup", str(warmup), "--iters", str(iters)]
    common += ["--threads", str(args.threads)]
    if row == "peer":
        return [str(peer_python(args.peer_venv)), str(PEER_WORKER), *common]
    return [sys.executable, str(Path(__file__).resolve()), "--worker", row, *common]


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, Python and torch versions of the machine running the benchmark."""
    import torch

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_version": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_average_at_end": list(os.getloadavg()),
    }


def ms_per_img(measurement: dict[str, Any] | None) -> float | None:
    if not measurement or "median_s" not in measurement:
        return None
    return 1000.0 * measurement["median_s"] / measurement["batch"]


def summarize_row(row: str, forward: dict[str, Any] | None, train: dict[str, Any] | None) -> dict[str, Any]:
    """One table row from its two measurements."""
    source = next((m for m in (train, forward) if m and "params_g" in m), {})
    phases = (train or {}).get("phases_median_s", {})
    batch = (train or {}).get("batch")
    return {
        "row": row,
        "resolution": source.get("resolution"),
        "params_g": source.get("params_g"),
        "params_d": source.get("params_d"),
        "frozen_params": source.get("frozen_params"),
        "forward_ms_per_img": ms_per_img(forward),
        "train_ms_per_img": ms_per_img(train),
        "train_g_phase_ms_per_img": 1000.0 * phases["g_phase"] / batch if "g_phase" in phases else None,
        "train_d_phase_ms_per_img": 1000.0 * phases["d_phase"] / batch if "d_phase" in phases else None,
        "forward_peak_rss_mb": (forward or {}).get("peak_rss_mb"),
        "train_peak_rss_mb": (train or {}).get("peak_rss_mb"),
        "losses_finite": (train or {}).get("losses_finite"),
        "config": source.get("config"),
        "forward": forward,
        "train": train,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def compare(rows: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """peer / ours-matched ratios and how closely the parameter counts match."""
    peer, ours = rows.get("peer"), rows.get("ours-matched")
    if not peer or not ours:
        return None
    keys = (
        "forward_ms_per_img",
        "train_ms_per_img",
        "train_peak_rss_mb",
        "forward_peak_rss_mb",
        "params_g",
        "params_d",
    )
    result: dict[str, Any] = {f"{k}_peer_over_ours": ratio(peer[k], ours[k]) for k in keys}
    result["params_g_relative_difference"] = ratio(ours["params_g"], peer["params_g"])
    result["params_d_relative_difference"] = ratio(ours["params_d"], peer["params_d"])
    for side in ("g", "d"):
        rel = result[f"params_{side}_relative_difference"]
        if rel is not None:
            result[f"params_{side}_relative_difference"] = rel - 1.0
    return result


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_params(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f}M"


def print_table(report: dict[str, Any]) -> None:
    """The results as a plain-text table, then the peer/ours ratios and any failures."""
    settings = report["settings"]
    print(
        f"\nGigaGAN networks on CPU, {settings['threads']} threads, median ms per image "
        f"(G forward at batch {settings['forward_batch']}, train step at batch {settings['train_batch']})"
    )
    headers = [
        "row",
        "res",
        "G params",
        "D params",
        "G fwd ms/img",
        "train ms/img",
        "G / D phase",
        "RSS MB fwd / train",
    ]
    lines = [headers]
    for row in report["rows"]:
        failed = any(row[kind] and "error" in row[kind] for kind in ("forward", "train"))
        lines.append(
            [
                row["row"] + (" (failed)" if failed else ""),
                fmt(row["resolution"]),
                fmt_params(row["params_g"]),
                fmt_params(row["params_d"]),
                fmt(row["forward_ms_per_img"], 1),
                fmt(row["train_ms_per_img"]),
                f"{fmt(row['train_g_phase_ms_per_img'])} / {fmt(row['train_d_phase_ms_per_img'])}",
                f"{fmt(row['forward_peak_rss_mb'])} / {fmt(row['train_peak_rss_mb'])}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    for index, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(line[1:], widths[1:])]
        print("  ".join(cells))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    comparison = report.get("peer_over_ours_matched")
    if comparison:
        print(
            "peer / ours-matched: G forward x{}, train step x{}, peak RSS train x{} (forward x{}); "
            "trainable params ours vs peer: G {:+.1%}, D {:+.1%}".format(
                fmt(comparison["forward_ms_per_img_peer_over_ours"], 2),
                fmt(comparison["train_ms_per_img_peer_over_ours"], 2),
                fmt(comparison["train_peak_rss_mb_peer_over_ours"], 2),
                fmt(comparison["forward_peak_rss_mb_peer_over_ours"], 2),
                comparison["params_g_relative_difference"] or 0.0,
                comparison["params_d_relative_difference"] or 0.0,
            )
        )
    for row in report["rows"]:
        for kind in ("forward", "train"):
            if row[kind] and "error" in row[kind]:
                print(f"{row['row']} {kind} failed: {row[kind]['error']}")
                for line in row[kind].get("stderr_tail", []):
                    print(f"    {line}")
        if row["losses_finite"] is False:
            print(f"{row['row']}: non-finite losses during the training step")


# ------------------------------------------------------------------------------------------------
# Main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: batch 2, 1 timed iteration (warm-up 1 for ours, 0 for the peer)",
    )
    parser.add_argument("--iters", type=int, default=5, help="timed iterations for our rows (median)")
    parser.add_argument("--peer-iters", type=int, default=2, help="timed iterations for the peer (~60 s a step)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up iterations")
    parser.add_argument(
        "--peer-warmup", type=int, default=None, help="warm-up iterations for the peer (default --warmup)"
    )
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--forward-batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads in every worker")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--skip-peer", action="store_true", help="measure our rows only")
    parser.add_argument("--setup-peer", action="store_true", help="(re)install the peer venv, then run")
    parser.add_argument("--peer-venv", type=Path, default=PEER_VENV)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per measurement process")
    parser.add_argument(
        "--output", type=Path, default=None, help=f"JSON file (default {DEFAULT_OUTPUT.relative_to(ROOT)})"
    )
    # internal: a child process measuring one of our rows
    parser.add_argument("--worker", choices=OURS, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["forward", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.iters = args.peer_iters = 1
        args.warmup, args.peer_warmup = 1, 0  # our warm-up costs seconds, the peer's a minute
        args.train_batch = args.forward_batch = 2
    if args.peer_warmup is None:
        args.peer_warmup = args.warmup
    if min(args.train_batch, args.forward_batch, args.iters, args.peer_iters, args.threads) < 1:
        parser.error("batch sizes, iteration counts and threads must be at least 1")
    if min(args.warmup, args.peer_warmup) < 0:
        parser.error("warm-up counts cannot be negative")
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        run_ours_worker(args)
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"unknown rows: {', '.join(unknown)}")
    if args.skip_peer:
        rows = [r for r in rows if r != "peer"]
    if "peer" in rows and (args.setup_peer or not peer_ready(args.peer_venv)):
        setup_peer(args.peer_venv)

    load_at_start = list(os.getloadavg())
    if load_at_start[0] > BUSY_LOAD:
        print(
            f"warning: load average {load_at_start[0]:.1f} on {os.cpu_count()} cores - other processes are "
            "running, so these timings will be slow and noisy (use an idle machine for real numbers)",
            flush=True,
        )
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        iters = args.peer_iters if row == "peer" else args.iters
        warmup = args.peer_warmup if row == "peer" else args.warmup
        measured: dict[str, dict[str, Any] | None] = {}
        for measure, batch in (("forward", args.forward_batch), ("train", args.train_batch)):
            print(f"{row}: {measure} at batch {batch}, {warmup} warm-up + {iters} timed ...", flush=True)
            command = measurement_command(row, measure, batch, warmup, iters, args)
            measured[measure] = run_child(command, args.threads, args.timeout)
        results[row] = summarize_row(row, measured["forward"], measured["train"])

    report: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "quick": args.quick,
            "threads": args.threads,
            "forward_batch": args.forward_batch,
            "train_batch": args.train_batch,
            "warmup_ours": args.warmup,
            "warmup_peer": args.peer_warmup,
            "iters_ours": args.iters,
            "iters_peer": args.peer_iters,
            "statistic": "median over timed iterations",
            "peak_rss": "ru_maxrss of a fresh process per measurement (model construction included)",
        },
        "timed_step": {"ours": OURS_STEP, "peer": PEER_STEP},
        "matching": MATCHING,
        "rows": [results[row] for row in rows],
        "peer_over_ours_matched": compare(results),
        "total_wall_s": time.perf_counter() - started,
    }
    peer_torch = (results.get("peer", {}).get("train") or {}).get("torch_version")
    if peer_torch:
        report["machine"]["peer_torch_version"] = peer_torch
    report["machine"]["load_average_at_start"] = load_at_start
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    comparison = report["peer_over_ours_matched"]
    if comparison:
        for side in ("g", "d"):
            rel = comparison[f"params_{side}_relative_difference"]
            if rel is not None and abs(rel) > MATCH_TOLERANCE:
                print(f"warning: ours-matched {side.upper()} differs from the peer's by {rel:+.1%} (> 5%)")
    print(f"wrote {output} ({report['total_wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
