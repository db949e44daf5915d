"""The fusion head's optimizers: SGD with momentum and AdamW, without ``torch.optim``.

Why not ``torch.optim``: constructing its optimizers and calling their ``step`` and
``zero_grad`` goes through ``torch._disable_dynamo``, which imports ``torch._dynamo``
(sympy, triton, inductor) on first call: about 150-230 MB of memory in the app, which
nothing else of ours needs, for the sake of a few multi-tensor updates. Its per-step
bookkeeping (grouping by device and dtype, state dicts, hooks) is also a visible part of
a small head's step on a CPU.

These are the same updates as ``torch.optim.SGD`` and ``torch.optim.AdamW`` with
``foreach=True`` (their ``_multi_tensor_*`` functions in torch/optim/sgd.py and
torch/optim/adam.py), op for op, so a training gives the same weights as it did with
them: SGD without dampening or Nesterov, the weight decay added to the gradient and the
first step's momentum buffer the gradient itself; AdamW with decoupled weight decay, bias
corrections, ``eps`` added after the square root, no amsgrad. Only what the fusion
training uses is here: a fixed learning rate, one group of parameters, no state_dict
(a training never resumes an optimizer), no closure, no sparse or complex gradients.
A parameter whose gradient is None (not used by a step) is skipped by that step, as
torch.optim does: its momentum (or AdamW step count) is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

OPTIMIZERS = ("sgd", "adamw")


class Optimizer:
    """What the training loop calls: ``zero_grad`` before the backward pass, ``step``
    after it. Holds the parameters it updates and each one's state."""

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("an optimizer needs at least one parameter")
        if lr <= 0 or weight_decay < 0:
            raise ValueError(f"lr must be positive and weight_decay not negative, got lr "
                             f"{lr} and weight_decay {weight_decay}")
        self.lr, self.weight_decay = lr, weight_decay

    def zero_grad(self) -> None:
        """Drop every gradient (set to None, as ``zero_grad(set_to_none=True)``): the next
        backward pass writes fresh ones instead of adding to zeros."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of the parameters that have a gradient."""
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        if index:
            params = [self.params[i] for i in index]
            self._update(index, params, [p.grad for p in params])  # type: ignore[misc]

    def _update(self, index: list[int], params: list[Tensor], grads: list[Tensor]) -> None:
        """Update ``params`` (``self.params[i]`` for i in ``index``) from ``grads``."""
        raise NotImplementedError


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay=..., foreach=True)``."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        if momentum < 0:
            raise ValueError(f"momentum must not be negative, got {momentum}")
        self.momentum = momentum
        self.buffers: list[Tensor | None] = [None] * len(self.params)

    def _update(self, index: list[int], params: list[Tensor], grads: list[Tensor]) -> None:
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum != 0:
            bufs = [self.buffers[i] for i in index]
            if all(b is not None for b in bufs):
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads, alpha=1.0)
            else:
                # The first step (of a parameter): its buffer starts as its gradient.
                for k, (i, grad) in enumerate(zip(index, grads)):
                    buf = bufs[k]
                    if buf is None:
                        buf = self.buffers[i] = bufs[k] = grad.detach().clone()
                    else:
                        buf.mul_(self.momentum).add_(grad, alpha=1.0)
            grads = bufs  # type: ignore[assignment]
        torch._foreach_add_(params, grads, alpha=-self.lr)


class AdamW(Optimizer):
    """``torch.optim.AdamW(params, lr, betas, eps, weight_decay, foreach=True)``."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0) or eps < 0:
            raise ValueError(f"betas must be in [0, 1) and eps not negative, got {betas} "
                             f"and {eps}")
        self.betas, self.eps = betas, eps
        # Per parameter: steps taken, and the moving averages of the gradient and of its
        # square (created at the parameter's first step, as torch.optim does).
        self.steps = [0] * len(self.params)
        self.exp_avg: list[Tensor | None] = [None] * len(self.params)
        self.exp_avg_sq: list[Tensor | None] = [None] * len(self.params)

    def _update(self, index: list[int], params: list[Tensor], grads: list[Tensor]) -> None:
        beta1, beta2 = self.betas
        for i in index:
            if self.exp_avg[i] is None:
                p = self.params[i]
                self.exp_avg[i] = torch.zeros_like(p, memory_format=torch.preserve_format)
                self.exp_avg_sq[i] = torch.zeros_like(p,
                                                      memory_format=torch.preserve_format)
            self.steps[i] += 1
        exp_avgs = [self.exp_avg[i] for i in index]
        exp_avg_sqs = [self.exp_avg_sq[i] for i in index]
        if self.weight_decay != 0:
            torch._foreach_mul_(params, 1 - self.lr * self.weight_decay)  # decoupled
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        # torch.optim keeps each step count in a float32 tensor and reads it back as a
        # Python float: the same numbers as float(step) below 2**24 steps.
        step_size = [-(self.lr / (1 - beta1 ** float(self.steps[i]))) for i in index]
        bias2_sqrt = [(1 - beta2 ** float(self.steps[i])) ** 0.5 for i in index]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)


def make_optimizer(name: str, params: Iterable[Tensor], lr: float, momentum: float,
                   weight_decay: float) -> Optimizer:
    """The optimizer ``name`` ("sgd": with ``momentum``; "adamw") over ``params``."""
    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
