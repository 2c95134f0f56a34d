"""The exercise contract: every name a student implements, defined once.

Stubs in ``exercises/`` are generated from this module (``python -m grader.stubgen``), the tests check
that ``solutions/`` and ``reference/`` match it, the worker uses it to find a submission's names, and
the checks use it to call them. Change a signature here and everything else follows or fails loudly.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """One parameter of a contract signature (``default`` is source text, ``None`` when required)."""

    name: str
    annotation: str | None
    default: str | None


@dataclass(frozen=True)
class Exercise:
    """One function or class students implement.

    ``signature`` is Python source without the leading ``def``/``class``, e.g.
    ``"conv_output_size(size: int, kernel_size: int) -> int"`` or ``"QuadrantNet(nn.Module)"``.
    Classes list their methods (``__init__`` first) as further signatures with docstrings.
    """

    module: str
    signature: str
    doc: str
    kind: str = "function"
    methods: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0].strip()

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def params(self) -> tuple[Param, ...]:
        """Parameters of the function, or of the class's ``__init__`` without ``self``."""
        sig = self.signature if self.kind == "function" else self.methods[0][0]
        return _parse_params(sig)


@dataclass(frozen=True)
class Module:
    """A student module: its docstring, the imports its stubs need, and its exercises."""

    name: str
    doc: str
    imports: tuple[str, ...]
    exercises: tuple[Exercise, ...] = field(default=())


def _parse_params(signature: str) -> tuple[Param, ...]:
    tree = ast.parse(f"def {signature}: pass")
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [
        Param(a.arg, ast.unparse(a.annotation) if a.annotation else None, ast.unparse(d) if d else None)
        for a, d in zip(positional, defaults, strict=True)
    ]
    params += [
        Param(a.arg, ast.unparse(a.annotation) if a.annotation else None, ast.unparse(d) if d else None)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return tuple(p for p in params if p.name != "self")


SHAPES = Module(
    name="shapes",
    doc="Output sizes and parameter counts of convolutional networks, worked out by hand.",
    imports=("from torch import nn",),
    exercises=(
        Exercise(
            "shapes",
            "conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, "
            "dilation: int = 1) -> int",
            """Return the output length along one spatial axis of ``nn.Conv2d``.

            With input length ``size``, the layer sees ``size + 2 * padding`` positions; a kernel of
            ``kernel_size`` taps spaced ``dilation`` apart spans ``dilation * (kernel_size - 1) + 1`` of
            them, and windows start every ``stride`` positions. Return the number of whole windows,
            exactly as ``nn.Conv2d(1, 1, kernel_size, stride, padding, dilation)`` computes it.

            Example: ``conv_output_size(28, 5) == 24``; ``conv_output_size(5, 3, stride=2, padding=1) == 3``.
            """,
        ),
        Exercise(
            "shapes",
            "pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0, "
            "dilation: int = 1, ceil_mode: bool = False) -> int",
            """Return the output length along one spatial axis of ``nn.MaxPool2d``.

            ``stride=None`` means ``stride = kernel_size``. Like the convolution formula, but with
            ``ceil_mode=True`` the division rounds up, and then PyTorch drops the last window if it would
            start beyond the input plus the left padding (``(out - 1) * stride >= size + padding``).
            Match ``nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)`` exactly.

            Example: ``pool_output_size(24, 2) == 12``; ``pool_output_size(5, 2, ceil_mode=True) == 3``.
            """,
        ),
        Exercise(
            "shapes",
            "conv_params(in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], "
            "bias: bool = True, groups: int = 1) -> int",
            """Return the number of learnable parameters of ``nn.Conv2d`` with these arguments.

            An int ``kernel_size`` means a square kernel. Each output channel sees
            ``in_channels // groups`` input channels; the bias adds one parameter per output channel.

            Example: ``conv_params(1, 8, 5) == 208``.
            """,
        ),
        Exercise(
            "shapes",
            "linear_params(in_features: int, out_features: int, bias: bool = True) -> int",
            """Return the number of learnable parameters of ``nn.Linear(in_features, out_features, bias)``.

            Example: ``linear_params(1936, 32) == 61984``.
            """,
        ),
        Exercise(
            "shapes",
            "count_parameters(model: nn.Module, trainable_only: bool = True) -> int",
            """Return the number of parameters of ``model``.

            With ``trainable_only`` count only parameters with ``requires_grad``. A parameter shared by
            two layers (tied weights) counts once. Buffers (e.g. BatchNorm running statistics) are not
            parameters.
            """,
        ),
        Exercise(
            "shapes",
            "quadrant_net_shapes(num_channel: int = 8, input_size: int = 56) -> list[tuple[int, int, int]]",
            """Return the (C, H, W) shapes after conv1, pool1, conv2 and pool2 of the quadrant CNN.

            The network sees a 1 x input_size x input_size image; conv1 has ``num_channel`` 5x5 filters
            and conv2 ``2 * num_channel`` 5x5 filters (stride 1, no padding); both pools are 2x2 max
            pools with stride 2 (floor). This is the "why 11 x 11?" question as code.

            Example: ``quadrant_net_shapes()[-1] == (16, 11, 11)``.
            """,
        ),
    ),
)

QUADRANT = Module(
    name="quadrant",
    doc="The quadrant CNN and a variant that is robust to where the digit sits.",
    imports=("import torch", "from torch import nn"),
    exercises=(
        Exercise(
            "quadrant",
            "QuadrantNet(nn.Module)",
            """The quadrant CNN from the course.

            conv(1 -> c, 5x5) ReLU maxpool(2) conv(c -> 2c, 5x5) ReLU maxpool(2) flatten
            Linear(2c * 11 * 11 -> 4c) ReLU Linear(4c -> 2c) ReLU Linear(2c -> num_classes), where
            c = ``num_channel``. The input is N x 1 x 56 x 56; the output is N x num_classes logits (no
            softmax). For c = 8 it has 66,106 parameters.
            """,
            kind="class",
            methods=(
                (
                    "__init__(self, num_channel: int = 8, num_classes: int = 10) -> None",
                    "Create the layers. Call ``super().__init__()`` first.",
                ),
                (
                    "forward(self, x: torch.Tensor) -> torch.Tensor",
                    "Map N x 1 x 56 x 56 images to N x num_classes logits.",
                ),
            ),
        ),
        Exercise(
            "quadrant",
            "RobustQuadrantNet(nn.Module)",
            """Your translation-robust variant of QuadrantNet.

            Trained on digits in the top-left corner only, it must classify digits in the bottom-right
            corner nearly as well. It must accept square inputs of other sizes too (e.g. N x 1 x 84 x 84)
            and return N x num_classes logits. Hint: what does a flatten layer remember that a global
            pooling layer forgets, and what does a valid convolution see at the canvas edge?

            How it is graded: the grader builds it (default arguments), trains it from initial weights
            of its own (each parameter drawn anew with the scale of yours) with its own trainer (Adam, lr
            0.003, batch 64, 16,000 top-left training images) and tests it on a secret sample of held-out
            digits in both corners. *Learning*: top-left accuracy reaches 0.60. *Invariance*: bottom-right
            accuracy is at least 0.87 of top-left accuracy, judged whenever top-left accuracy is above
            0.25 (a slow but invariant design keeps these points). A result that misses a rule, or lies
            close to a threshold, is measured again with two more seeds; the median decides.
            Networks (this one and QuadrantNet) are exported with ``torch.export`` and judged as graphs of
            tensor operations: write them as layers and torch operations. ``forward`` must be a function
            of its input: it may not change the network's own parameters or buffers (batch norm's running
            statistics aside), and no Python value may be read from a tensor (no ``if`` on a tensor,
            no ``.item()``, no numpy), so no data-dependent control flow; ``if self.training:`` is fine.
            """,
            kind="class",
            methods=(
                (
                    "__init__(self, num_channel: int = 8, num_classes: int = 10) -> None",
                    "Create the layers. Call ``super().__init__()`` first.",
                ),
                (
                    "forward(self, x: torch.Tensor) -> torch.Tensor",
                    "Map N x 1 x H x W images to N x num_classes logits.",
                ),
            ),
        ),
    ),
)

GRADCAM = Module(
    name="gradcam",
    doc="Looking inside a CNN: Grad-CAM, layer activations and saliency maps.",
    imports=("import torch", "from torch import nn"),
    exercises=(
        Exercise(
            "gradcam",
            "grad_cam(model: nn.Module, x: torch.Tensor, target_layer: nn.Module, "
            "target_class: int | torch.Tensor | None = None) -> torch.Tensor",
            """Return Grad-CAM heatmaps (Selvaraju et al. 2017), N x H x W, for inputs x of N x C x H x W.

            1. Score: the logit (not the softmax) of ``target_class`` for each sample. ``target_class`` is
               an int (the same class for all), a tensor of N ints, or None (each sample's argmax).
            2. Weights: the spatial mean of the gradient of the score w.r.t. ``target_layer``'s output,
               one weight per channel and sample.
            3. Map: ReLU of the weighted sum of ``target_layer``'s output channels.
            4. Normalise each map on its own to [0, 1] by min-max; a constant map becomes all zeros
               (never NaN).
            5. Upsample bilinearly (``align_corners=False``) to x's H x W.

            Compute in the mode the model is in (do not switch it to eval or train: the caller decides).
            Leave the model exactly as you found it, also when an exception is raised: its and every
            submodule's train/eval flag, no hooks left registered, parameters' ``.grad`` unchanged and
            weights unchanged; leave ``x`` alone too (its values, ``requires_grad`` and ``.grad``). The
            result is detached.
            """,
        ),
        Exercise(
            "gradcam",
            "activations(model: nn.Module, x: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]",
            """Return the outputs of each module in ``layers`` when ``model`` runs on x, in the same order.

            Use forward hooks and remove them before returning (also on error). Return each output as
            the layer produced it: a detached *copy* (a later in-place operation, such as
            ``nn.ReLU(inplace=True)``, would change the layer's own output tensor). No gradients are
            computed; the model and ``x`` are left as they were.
            """,
        ),
        Exercise(
            "gradcam",
            "saliency_map(model: nn.Module, x: torch.Tensor, "
            "target_class: int | torch.Tensor | None = None) -> torch.Tensor",
            """Return vanilla-gradient saliency maps (Simonyan et al. 2014) of shape N x H x W.

            The score is the logit of ``target_class`` (as in ``grad_cam``); the map is the maximum over
            input channels of the absolute gradient of the score w.r.t. x. No normalisation. Compute in
            the mode the model is in. Leave the model as you found it (modes, ``.grad``, weights) and do
            not touch the caller's x (its values, ``requires_grad`` and ``.grad``): differentiate a copy.
            """,
        ),
    ),
)

TRAINING = Module(
    name="training",
    doc="Training a classifier: one epoch, evaluation, and early stopping.",
    imports=("from collections.abc import Callable, Iterable", "", "import torch", "from torch import nn"),
    exercises=(
        Exercise(
            "training",
            "train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, "
            'loss_fn: Callable, device: str = "cpu") -> dict',
            """Train ``model`` for one pass over ``loader`` (batches of ``(x, y)``) and return statistics.

            Put the model in train mode, and for each batch: move it to ``device``, clear the gradients,
            compute ``loss_fn(model(x), y)`` (a mean over the batch; one forward pass per batch), backpropagate
            and step the optimizer. Return ``{"loss": float, "accuracy": float}``: the mean loss per
            *sample* and the fraction of samples whose argmax prediction (of that forward pass) equals y,
            over the whole epoch (a smaller last batch weighs less than a full one; the last batch may
            hold a single sample).
            """,
        ),
        Exercise(
            "training",
            'evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict',
            """Evaluate ``model`` on ``loader`` without changing it.

            Run in eval mode with gradients disabled, then restore every submodule's own previous
            train/eval flag (a model may hold submodules in different modes), also on error.
            Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
            loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
            in loader order (the last batch may hold a single sample).
            """,
        ),
        Exercise(
            "training",
            "fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable, "
            "optimizer: torch.optim.Optimizer, loss_fn: Callable, epochs: int, patience: int = 5, "
            'device: str = "cpu") -> dict',
            """Train for up to ``epochs`` epochs with early stopping on validation accuracy.

            Each epoch: ``train_one_epoch`` on ``train_loader``, then ``evaluate`` on ``val_loader``. An
            epoch whose validation accuracy is strictly higher than every earlier one is the new best
            (so the first epoch always is, even at accuracy 0); keep a copy of the model's whole
            ``state_dict`` (parameters and buffers) then. Stop after ``patience`` consecutive epochs
            without a new best. Before returning, load the best state back into ``model``.
            Return ``{"train_loss": list[float], "val_accuracy": list[float], "best_epoch": int}`` with
            one entry per epoch run (``train_loss``: each epoch's mean loss per sample, as
            ``train_one_epoch`` returns it); ``best_epoch`` is a 0-based index into those lists. With
            ``epochs=0`` nothing is trained: empty lists, ``best_epoch`` -1, the model unchanged.
            """,
        ),
    ),
)

MODULES: tuple[Module, ...] = (SHAPES, QUADRANT, GRADCAM, TRAINING)
EXERCISES: dict[str, Exercise] = {ex.qualname: ex for m in MODULES for ex in m.exercises}


def exercise(qualname: str) -> Exercise:
    """Return the exercise called ``module.name`` (KeyError with the known names otherwise)."""
    try:
        return EXERCISES[qualname]
    except KeyError:
        raise KeyError(f"{qualname!r} is not in the contract; known: {sorted(EXERCISES)}") from None


def module(name: str) -> Module:
    for m in MODULES:
        if m.name == name:
            return m
    raise KeyError(f"no contract module {name!r}")
