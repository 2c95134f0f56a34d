"""Layer tables read with torchinfo, safely.

torchinfo 1.8 mutates what it summarises (train/eval flags, lazy layers, device), so it only ever sees a
deep copy, on the CPU, with ``input_data``. Rows are mapped to module names through ``named_modules()``.
The judge reads the tables of rebuilt student networks (:class:`grader.netgraph.GraphNet`, whose operations
are child modules that know the parameters they use) and of the reference, with the same function.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torchinfo import summary

LAYER_TYPES = ("Conv2d", "Linear", "MaxPool2d")


@dataclass(frozen=True)
class LayerRow:
    """One module call: its name in the model, class, output shape (batch dim included) and own parameters."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int

    def to_json(self) -> dict:
        return asdict(self)


def layer_table(model: nn.Module, x: torch.Tensor, kinds: tuple[str, ...] = LAYER_TYPES) -> list[LayerRow]:
    """Rows for the calls of modules whose class name is in ``kinds``, in execution order."""
    clone = copy.deepcopy(model).cpu()
    names = {id(module): name for name, module in clone.named_modules()}
    info = summary(clone, input_data=x.cpu(), verbose=0, device="cpu")
    rows = []
    for row in info.summary_list:
        kind = type(row.module).__name__
        if kind not in kinds:
            continue
        shape = row.output_size if isinstance(row.output_size, list) else []
        own = getattr(row.module, "own_parameters", None)  # a rebuilt network's operation (grader/netgraph.py)
        if own is None:
            own = sum(p.numel() for p in row.module.parameters(recurse=False))
        rows.append(LayerRow(names.get(id(row.module), "?"), kind, tuple(int(s) for s in shape), int(own)))
    return rows
