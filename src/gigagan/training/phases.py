"""The phases of a training step (G main, D main, D regularisation): each computes one player's
loss, backpropagates it into that player's parameters only, averages the gradients over the ranks
and applies them where every rank's are finite.

With `overlap=True` the D main phase's forward and backward run on the calling thread while the G
main phase's backward runs on a worker thread, so a CPU with two cores keeps both busy. That is
exact only when D's phase does not wait for G's update, i.e. when D judges the G phase's own fakes
(`LossConfig.reuse_generator_fakes`): the two updates are then applied after both backward passes,
G's first, and the step's result is the same as without overlap. The two threads share the CPU
cores: each gets half of the intra-op threads torch had when this module was imported.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

from gigagan.training.distributed import DistributedContext, all_reduce_flag, all_reduce_gradients

LossAndStats = tuple[Tensor, dict[str, float]]
_INTRA_OP_THREADS = torch.get_num_threads()  # before any overlapping runner halved it


def adamw_optimizer(
    module: nn.Module, lr: float, betas: tuple[float, float], attention_decay: float, ratio: float = 1.0
) -> torch.optim.AdamW:
    """AdamW; attention weights get a small weight decay, everything else none. `ratio` adapts lr and
    betas for lazy regularisation (StyleGAN2's mb_ratio)."""
    attention, other = [], []
    for name, param in module.named_parameters():
        if param.requires_grad:
            (attention if "attention" in name and param.dim() > 1 else other).append(param)
    groups = [{"params": other, "weight_decay": 0.0}]
    if attention:
        groups.append({"params": attention, "weight_decay": attention_decay})
    # one fused kernel over all parameters where the device has it: on 2 CPU cores the quickstart G's and
    # D's steps take 2.3 ms instead of 11 (benchmarks/bench_update_overhead.py), of a ~115 ms training step
    fused = all(param.device.type in ("cpu", "cuda") for param in attention + other)
    return torch.optim.AdamW(groups, lr=lr * ratio, betas=(betas[0] ** ratio, betas[1] ** ratio), eps=1e-8, fused=fused)


def gradients_finite(params: list[nn.Parameter]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack([g.float().abs().sum() for g in grads])).all())


class PhaseRunner:
    """Runs phases for named players ("generator", "discriminator"): their modules and optimizers."""

    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        context: DistributedContext,
        overlap: bool = False,
    ) -> None:
        self.modules = modules
        self.optimizers = optimizers
        self.context = context
        self.params = {name: [p for p in module.parameters() if p.requires_grad] for name, module in modules.items()}
        self._worker = None
        self._threads_outside = torch.get_num_threads()
        if overlap:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="gigagan-backward")
            self.use_overlap_threads()

    def use_overlap_threads(self) -> None:
        """With `overlap`, half the intra-op threads for each of the two phases running at once (the
        worker thread takes torch's thread count when it first runs an operator)."""
        if self._worker is not None:
            torch.set_num_threads(max(1, _INTRA_OP_THREADS // 2))

    def restore_threads(self) -> None:
        """Give the process back the intra-op thread count it had before this runner was made."""
        if self._worker is not None:
            torch.set_num_threads(self._threads_outside)

    def _start(self, name: str, compute: Callable[[], LossAndStats], freeze_others: bool = True) -> LossAndStats:
        """Gradients on for `name`'s parameters (off for the other players' unless `freeze_others` is
        False), its gradients cleared, its loss computed."""
        for player, params in self.params.items():
            if player == name or freeze_others:
                for param in params:
                    param.requires_grad_(player == name)
        self.optimizers[name].zero_grad(set_to_none=True)
        return compute()

    def _finish(self, name: str, finite: bool, stats: dict[str, float]) -> dict:
        """Average `name`'s gradients over the ranks and apply them where all are finite."""
        if finite:
            all_reduce_gradients(self.modules[name], self.context)
            finite = gradients_finite(self.params[name])
        finite = not all_reduce_flag(not finite, self.context)
        if finite:
            self.optimizers[name].step()
        else:
            self.optimizers[name].zero_grad(set_to_none=True)
        stats[f"{name}_finite"] = finite
        return stats

    def phase(self, name: str, compute: Callable[[], LossAndStats]) -> dict:
        """One phase: `name`'s loss, its backward pass, its update."""
        loss, stats = self._start(name, compute)
        finite = _finite(loss)
        if finite:
            loss.backward()
        return self._finish(name, finite, stats)

    def main_phases(
        self, generator_loss: Callable[[], LossAndStats], discriminator_loss: Callable[[], LossAndStats]
    ) -> dict:
        """G main phase, then D main phase (D's backward beside G's with `overlap`)."""
        if self._worker is None:
            return self.phase("generator", generator_loss) | self.phase("discriminator", discriminator_loss)
        g_loss, g_stats = self._start("generator", generator_loss)
        g_finite = _finite(g_loss)
        backward = self._worker.submit(g_loss.backward) if g_finite else None
        try:
            # G's graph is recorded: its parameters stay trainable, or their gradients would not accumulate
            d_loss, d_stats = self._start("discriminator", discriminator_loss, freeze_others=False)
            d_finite = _finite(d_loss)
            if d_finite:
                d_loss.backward()
        finally:
            if backward is not None:
                backward.result()
        return self._finish("generator", g_finite, g_stats) | self._finish("discriminator", d_finite, d_stats)


def _finite(loss: Tensor) -> bool:
    return bool(torch.isfinite(loss.detach()).all())
