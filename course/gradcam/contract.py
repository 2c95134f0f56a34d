"""The contract of the student module ``gradcam``: every name students implement in it, defined once.

Stubs, the notebook, the solutions, the reference and the checks all follow it (grader/contract.py).
"""

from grader.contract import Exercise, Module

MODULE = Module(
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
