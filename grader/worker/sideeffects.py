"""Snapshots of a model's observable state, to report what a student function changed.

The worker reports the differences as plain lists of names; the judge decides whether any is allowed.
Observed: every submodule's mode and hooks (its own hook dicts and its parameters' tensor hooks), methods
replaced on an instance (``layer.forward = ...``: a hook by another name), the process-wide module hooks
(``register_module_forward_hook``, shown as ``<global>``), parameters' ``.grad`` and weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)
_TENSOR_HOOK_ATTRS = ("_backward_hooks", "_post_accumulate_grad_hooks")
_CALLED_METHODS = ("forward", "_call_impl", "__call__", "_wrapped_call_impl")  # replaced on an instance: a hook
_GLOBAL_HOOK_DICTS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_forward_hooks_always_called",
    "_global_module_registration_hooks",
    "_global_parameter_registration_hooks",
    "_global_buffer_registration_hooks",
)
GLOBAL = "<global>"


@dataclass
class Snapshot:
    modes: dict[str, bool]
    hooks: dict[str, int]
    replaced: dict[str, tuple[str, ...]]
    grads: dict[str, torch.Tensor | None]
    weights: dict[str, torch.Tensor]


def tensor_hooks(tensor: torch.Tensor) -> int:
    return sum(len(getattr(tensor, attr, None) or {}) for attr in _TENSOR_HOOK_ATTRS)


def _hook_count(module: nn.Module) -> int:
    own = sum(len(getattr(module, attr, {}) or {}) for attr in _HOOK_DICTS)
    return own + sum(tensor_hooks(p) for p in module.parameters(recurse=False))


def _global_hook_count() -> int:
    from torch.nn.modules import module

    return sum(len(getattr(module, attr, None) or {}) for attr in _GLOBAL_HOOK_DICTS)


def _replaced(module: nn.Module) -> tuple[str, ...]:
    return tuple(name for name in _CALLED_METHODS if name in vars(module))


def snapshot(model: nn.Module) -> Snapshot:
    return Snapshot(
        modes={name or "<model>": m.training for name, m in model.named_modules()},
        hooks={
            GLOBAL: _global_hook_count(),
            **{name or "<model>": _hook_count(m) for name, m in model.named_modules()},
        },
        replaced={name or "<model>": _replaced(m) for name, m in model.named_modules()},
        grads={n: None if p.grad is None else p.grad.detach().clone() for n, p in model.named_parameters()},
        weights={n: p.detach().clone() for n, p in model.named_parameters()},
    )


def changes(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """Names whose mode, hook count, replaced methods, ``.grad`` or weights differ between two snapshots."""

    def grad_changed(name: str) -> bool:
        a, b = before.grads.get(name), after.grads.get(name)
        if a is None or b is None:
            return (a is None) != (b is None)
        return a.shape != b.shape or not torch.equal(a, b)

    return {
        "modes": [n for n in before.modes if after.modes.get(n) != before.modes[n]],
        "hooks": [n for n in after.hooks if after.hooks[n] != before.hooks.get(n, 0)],
        "replaced": [
            f"{n}.{m}" for n in after.replaced for m in after.replaced[n] if m not in before.replaced.get(n, ())
        ],
        "grads": [n for n in before.grads if grad_changed(n)],
        "weights": [n for n in before.weights if not torch.equal(before.weights[n], after.weights[n])],
    }


def set_mixed_modes(model: nn.Module) -> None:
    """Put alternate submodules in eval mode so a blanket ``model.eval()``/``train()`` shows."""
    model.train()
    for index, module in enumerate(model.modules()):
        if index % 2:
            module.training = False


def preset_grads(model: nn.Module, every: int = 2) -> None:
    """Give every ``every``-th parameter a known ``.grad`` (the rest stay ``None``)."""
    for index, param in enumerate(model.parameters()):
        param.grad = torch.full_like(param, 0.25) if index % every == 0 else None
