"""A corpus of realistic buggy submissions: ``solutions/`` with one exact text substitution each.

Every :class:`Bug` names the checks it must fail (``fails``), no more and no fewer; ``tests/test_corpus.py``
grades each one and proves it. The substitutions are asserted to match exactly once, so a change to
``solutions/`` that invalidates a bug breaks the corpus loudly instead of silently grading the solution.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"


@dataclass(frozen=True)
class Bug:
    """``solutions/`` with, in ``module``.py, the exact text ``old`` replaced by ``new``."""

    name: str
    module: str
    old: str
    new: str
    fails: frozenset[str]
    why: str


def apply(bug: Bug, target_dir: Path) -> Path:
    """Copy ``solutions/`` into ``target_dir`` and plant ``bug`` there; return ``target_dir``."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    for module in SOLUTIONS.glob("*.py"):  # the modules only: a folder of modules is graded as modules
        shutil.copyfile(module, target_dir / module.name)
    path = target_dir / f"{bug.module}.py"
    source = path.read_text()
    count = source.count(bug.old)
    assert count == 1, f"{bug.name}: the old text occurs {count} times in solutions/{bug.module}.py, expected once"
    path.write_text(source.replace(bug.old, bug.new))
    return target_dir


def _fails(*names: str) -> frozenset[str]:
    return frozenset(names)


ALL_QUADRANT = (
    "quadrant/layer_shapes",
    "quadrant/forward_ops",
    "quadrant/parameter_counts",
    "quadrant/num_channel",
    "quadrant/logits",
    "quadrant/other_widths",  # hidden tier
)

BUGS: list[Bug] = [
    # ------------------------------------------------------------------ shapes
    Bug(
        "conv_ignores_dilation",
        "shapes",
        "span = dilation * (kernel_size - 1) + 1  # positions one window covers",
        "span = kernel_size  # positions one window covers",
        _fails("shapes/conv_output_size"),
        "a dilated kernel spans dilation*(k-1)+1 positions, not k; quadrant_net_shapes uses dilation 1 only",
    ),
    Bug(
        "pool_ceil_without_drop_rule",
        "shapes",
        "    if (out - 1) * stride >= size + padding:\n        out -= 1\n",
        "",
        _fails("shapes/pool_output_size"),
        "ceil_mode keeps a window starting in the right padding that PyTorch drops",
    ),
    Bug(
        "pool_ignores_ceil_mode",
        "shapes",
        "    if not ceil_mode:\n        return last_start // stride + 1\n",
        "    return last_start // stride + 1\n",
        _fails("shapes/pool_output_size"),
        "always floors, so ceil_mode=True loses the last partial window",
    ),
    Bug(
        "conv_params_ignores_groups",
        "shapes",
        "per_filter = (in_channels // groups) * kh * kw",
        "per_filter = in_channels * kh * kw",
        _fails("shapes/conv_params"),
        "with groups each filter sees only in_channels // groups channels",
    ),
    Bug(
        "linear_bias_per_input",
        "shapes",
        "        total += out_features\n",
        "        total += in_features\n",
        _fails("shapes/linear_params"),
        "a Linear layer has one bias per output feature, not per input",
    ),
    Bug(
        "count_parameters_via_state_dict",
        "shapes",
        "for p in model.parameters():",
        "for p in model.state_dict().values():",
        _fails("shapes/count_parameters"),
        "state_dict counts BatchNorm buffers and tied weights twice, and its detached tensors never require grad",
    ),
    Bug(
        "count_parameters_ignores_trainable_only",
        "shapes",
        "        if trainable_only and not p.requires_grad:\n            continue\n",
        "",
        _fails("shapes/count_parameters"),
        "frozen parameters are counted even with trainable_only=True",
    ),
    Bug(
        "quadrant_shapes_same_padding",
        "shapes",
        "h1 = conv_output_size(input_size, 5)  # 56 -> 52",
        "h1 = conv_output_size(input_size, 5, padding=2)  # 56 -> 52",
        _fails("shapes/quadrant_net_shapes"),
        "the quadrant CNN's convs are valid (no padding): 56 -> 52, not 56 -> 56",
    ),
    # ---------------------------------------------------------------- quadrant
    Bug(
        "quadrant_softmax_output",
        "quadrant",
        "            nn.Linear(2 * c, num_classes),  # logits: no softmax, CrossEntropyLoss applies it\n",
        "            nn.Linear(2 * c, num_classes),\n            nn.Softmax(dim=1),\n",
        _fails("quadrant/logits"),
        "returns probabilities, so CrossEntropyLoss applies softmax twice; it still learns top-left digits within "
        "the budget (and collapses bottom-right), so only the check meant for the output loses its points",
    ),
    Bug(
        "quadrant_hardcoded_channels",
        "quadrant",
        "        c = num_channel\n        # 56 -conv5-> 52",
        "        c = 8\n        # 56 -conv5-> 52",
        _fails("quadrant/num_channel", "quadrant/other_widths"),
        "hard-codes 8/16/32 channels, so num_channel=4 or 16 builds the default net",
    ),
    Bug(
        "quadrant_features_without_relu",
        "quadrant",
        "            nn.Conv2d(1, c, kernel_size=5),\n            nn.ReLU(),\n            nn.MaxPool2d(2),\n"
        "            nn.Conv2d(c, 2 * c, kernel_size=5),\n            nn.ReLU(),\n",
        "            nn.Conv2d(1, c, kernel_size=5),\n            nn.MaxPool2d(2),\n"
        "            nn.Conv2d(c, 2 * c, kernel_size=5),\n",
        _fails(
            "quadrant/forward_ops",
            "robustness/quadrant_net_learns_top_left",
            "robustness/quadrant_net_fails_bottom_right",
        ),
        "without ReLUs the network is not the specified one: it loses the QuadrantNet robustness points too",
    ),
    Bug(
        "quadrant_fc1_12x12",
        "quadrant",
        "nn.Linear(2 * c * 11 * 11, 4 * c),",
        "nn.Linear(2 * c * 12 * 12, 4 * c),",
        _fails(*ALL_QUADRANT, "robustness/quadrant_net_learns_top_left", "robustness/quadrant_net_fails_bottom_right"),
        "miscounted feature map (12 x 12 instead of 11 x 11): the forward pass crashes, so every QuadrantNet check "
        "fails",
    ),
    Bug(
        "robust_is_flatten_quadrant_net",
        "quadrant",
        "class RobustQuadrantNet(nn.Module):",
        "RobustQuadrantNet = QuadrantNet\n\n\nclass _RobustDraft(nn.Module):",
        _fails("robustness/robust_net_keeps_bottom_right", "robustness/robust_net_other_sizes"),
        "a flatten head gives every position its own weights: no transfer to the bottom-right, fixed input size",
    ),
    Bug(
        "robust_gap_unpadded",
        "quadrant",
        "            nn.Conv2d(1, c, kernel_size=5, padding=2, bias=False),  # black stays exactly 0\n"
        "            nn.ReLU(),\n"
        "            nn.MaxPool2d(2),\n"
        "            nn.Conv2d(c, 2 * c, kernel_size=5, padding=2),\n"
        "            nn.ReLU(),\n"
        "            nn.MaxPool2d(2),\n"
        "        )\n"
        "        self.pool = nn.AdaptiveMaxPool2d(1)",
        "            nn.Conv2d(1, c, kernel_size=5),\n"
        "            nn.ReLU(),\n"
        "            nn.MaxPool2d(2),\n"
        "            nn.Conv2d(c, 2 * c, kernel_size=5),\n"
        "            nn.ReLU(),\n"
        "            nn.MaxPool2d(2),\n"
        "        )\n"
        "        self.pool = nn.AdaptiveAvgPool2d(1)",
        _fails("robustness/robust_net_learns_top_left", "robustness/robust_net_keeps_bottom_right"),
        "global average pooling over a mostly black canvas dilutes the digit's features: it barely learns",
    ),
    Bug(
        "robust_gap_padded",
        "quadrant",
        "self.pool = nn.AdaptiveMaxPool2d(1)",
        "self.pool = nn.AdaptiveAvgPool2d(1)",
        _fails("robustness/robust_net_learns_top_left"),
        "even with padding, averaging over the black canvas learns slowly (about 0.3 top-left after the budget), "
        "but it is invariant: it keeps its bottom-right points",
    ),
    # ----------------------------------------------------------------- gradcam
    Bug(
        "gradcam_no_relu",
        "gradcam",
        "cam = F.relu((weights * A).sum(dim=1))",
        "cam = (weights * A).sum(dim=1)",
        _fails("gradcam/matches_reference", "gradcam/unseen_inputs"),
        "without the ReLU, regions that speak against the class take part in the min-max normalisation",
    ),
    Bug(
        "gradcam_softmax_score",
        "gradcam",
        "            scores = _pick_scores(logits, target_class)\n",
        "            scores = _pick_scores(logits.softmax(dim=1), target_class)\n",
        _fails("gradcam/matches_reference", "gradcam/logit_scale_invariance", "gradcam/unseen_inputs"),
        "the softmax probability's gradient depends on the other logits and saturates as logits grow",
    ),
    Bug(
        "gradcam_batch_normalisation",
        "gradcam",
        "    normalised = torch.zeros_like(cam)\n"
        "    for i in range(cam.shape[0]):\n"
        "        lo, hi = cam[i].min(), cam[i].max()\n"
        "        if hi > lo:  # a constant map stays all zeros instead of 0 / 0 = NaN\n"
        "            normalised[i] = (cam[i] - lo) / (hi - lo)\n",
        "    lo, hi = cam.min(), cam.max()\n"
        "    normalised = (cam - lo) / (hi - lo) if hi > lo else torch.zeros_like(cam)\n",
        _fails("gradcam/matches_reference", "gradcam/batched_equals_single", "gradcam/unseen_inputs"),
        "min-max over the whole batch makes an image's map depend on the other images",
    ),
    Bug(
        "gradcam_max_of_gradients",
        "gradcam",
        "weights = dA.mean(dim=(2, 3), keepdim=True)",
        "weights = dA.amax(dim=(2, 3), keepdim=True)",
        _fails("gradcam/matches_reference", "gradcam/peak_on_object", "gradcam/unseen_inputs"),
        "a channel's weight is the spatial mean (global average pooling) of its gradients, not their maximum",
    ),
    Bug(
        "gradcam_argmax_over_flat_logits",
        "gradcam",
        "classes = logits.argmax(dim=1)",
        "classes = logits.argmax()",
        _fails("gradcam/matches_reference", "gradcam/target_class_forms", "gradcam/unseen_inputs"),
        "argmax without dim indexes the flattened batch, not each sample's classes",
    ),
    Bug(
        "gradcam_not_detached",
        "gradcam",
        "    A = A.detach()\n",
        "",
        _fails("gradcam/properties"),
        "the map is built from the live activations, so the returned tensor requires grad",
    ),
    Bug(
        "gradcam_hook_left_registered",
        "gradcam",
        "    finally:\n        handle.remove()\n",
        "    finally:\n",
        _fails("gradcam/no_side_effects"),
        "the forward hook is never removed and fires on every later forward pass",
    ),
    Bug(
        "gradcam_forward_replaced_on_the_layer",
        "gradcam",
        "    handle = target_layer.register_forward_hook(keep_output)\n",
        "    original_forward = target_layer.forward\n"
        "    target_layer.forward = lambda *a: keep_output(target_layer, a, original_forward(*a))\n"
        "    handle = target_layer.register_forward_hook(lambda *a: None)\n",
        _fails("gradcam/no_side_effects"),
        "the activations are caught by replacing the layer's forward, which is never put back",
    ),
    Bug(
        "gradcam_leaves_eval_mode",
        "gradcam",
        "    A = A.detach()\n",
        "    model.eval()\n    A = A.detach()\n",
        _fails("gradcam/no_side_effects"),
        "calls model.eval() and never restores the caller's train/eval flags",
    ),
    Bug(
        "gradcam_backward_fills_grad",
        "gradcam",
        "            (dA,) = torch.autograd.grad(scores.sum(), A)\n",
        "            A.retain_grad()\n            scores.sum().backward()\n            dA = A.grad\n",
        _fails("gradcam/no_side_effects"),
        "backward() adds the score's gradient into every parameter's .grad",
    ),
    Bug(
        "gradcam_nan_on_constant_map",
        "gradcam",
        "        if hi > lo:  # a constant map stays all zeros instead of 0 / 0 = NaN\n"
        "            normalised[i] = (cam[i] - lo) / (hi - lo)\n",
        "        normalised[i] = (cam[i] - lo) / (hi - lo)\n",
        _fails("gradcam/constant_map"),
        "min-max without a guard divides 0 by 0 on a constant map",
    ),
    Bug(
        "activations_hooks_left_registered",
        "gradcam",
        "    try:\n"
        "        with torch.no_grad():\n"
        "            model(x)\n"
        "    finally:\n"
        "        for handle in handles:\n"
        "            handle.remove()\n",
        "    with torch.no_grad():\n        model(x)\n",
        _fails("gradcam/activations"),
        "the forward hooks stay registered after activations() returns",
    ),
    Bug(
        "activations_late_binding_closure",
        "gradcam",
        "def hook(module, inputs, output, i=i):",
        "def hook(module, inputs, output):",
        _fails("gradcam/activations"),
        "every hook sees the loop's last i, so all outputs land in one slot (KeyError for the others)",
    ),
    Bug(
        "saliency_without_abs",
        "gradcam",
        "return dx.abs().max(dim=1).values",
        "return dx.max(dim=1).values",
        _fails("gradcam/saliency_map", "gradcam/unseen_saliency"),
        "saliency is the largest *absolute* gradient over channels; negative gradients count too",
    ),
    # ---------------------------------------------------------------- training
    Bug(
        "train_without_zero_grad",
        "training",
        "        optimizer.zero_grad()  # gradients add up across backward() calls unless cleared\n",
        "",
        _fails(
            "training/train_one_epoch_updates",
            "training/train_one_epoch_statistics",
            "training/zero_grad",
            "training/unseen_epoch",
            "training/early_stopping",
            "training/unseen_early_stopping",
        ),
        "gradients accumulate across batches, so every step after the first is wrong (and so are the losses, "
        "also those fit() reports)",
    ),
    Bug(
        "train_mean_of_batch_means",
        "training",
        "        total_loss += loss.item() * len(y)\n"
        "        correct += (out.argmax(dim=1) == y).sum().item()\n"
        "        n += len(y)\n"
        '    return {"loss": total_loss / n,',
        "        total_loss += loss.item()\n"
        "        correct += (out.argmax(dim=1) == y).sum().item()\n"
        "        n += len(y)\n"
        '    return {"loss": total_loss / len(loader),',
        _fails("training/train_one_epoch_statistics", "training/unseen_epoch"),
        "the mean of batch means gives the last, smaller batch as much weight as a full one",
    ),
    Bug(
        "train_never_calls_train",
        "training",
        "    model.train()  # dropout and batch norm behave differently in training\n",
        "",
        _fails("training/train_mode"),
        "a model handed over in eval mode trains with dropout off and batch norm frozen",
    ),
    Bug(
        "evaluate_loss_not_weighted",
        "training",
        "total_loss += loss_fn(out, y).item() * len(y)",
        "total_loss += loss_fn(out, y).item()",
        _fails("training/evaluate", "training/unseen_evaluate"),
        "sums batch means and divides by the number of samples: the loss is about batch_size times too small",
    ),
    Bug(
        "evaluate_without_eval",
        "training",
        "    model.eval()\n",
        "",
        _fails("training/evaluate_eval_mode_no_grad", "training/unseen_evaluate"),
        "evaluates with dropout active",
    ),
    Bug(
        "evaluate_without_no_grad",
        "training",
        "        with torch.no_grad():\n"
        "            for x, y in loader:\n"
        "                x, y = x.to(device), y.to(device)\n"
        "                out = model(x)\n"
        "                total_loss += loss_fn(out, y).item() * len(y)\n"
        "                y_true.append(y.cpu())\n"
        "                y_pred.append(out.argmax(dim=1).cpu())\n",
        "        for x, y in loader:\n"
        "            x, y = x.to(device), y.to(device)\n"
        "            out = model(x)\n"
        "            total_loss += loss_fn(out, y).item() * len(y)\n"
        "            y_true.append(y.cpu())\n"
        "            y_pred.append(out.argmax(dim=1).cpu())\n",
        _fails("training/evaluate_eval_mode_no_grad", "training/unseen_evaluate"),
        "builds an autograd graph for every validation batch",
    ),
    Bug(
        "evaluate_always_back_to_train",
        "training",
        "        for module, flag in was_training.items():  # put the model back the way we found it\n"
        "            module.train(flag)\n",
        "        model.train()  # back to training\n",
        _fails("training/evaluate_restores_mode"),
        "a model comes back in train mode, whatever mode its submodules were in",
    ),
    Bug(
        "fit_keeps_last_weights",
        "training",
        "    if best_state is not None:\n        model.load_state_dict(best_state)\n",
        "",
        _fails("training/restores_best_weights", "training/unseen_early_stopping"),
        "returns with the last epoch's weights instead of the best epoch's",
    ),
    Bug(
        "fit_ties_count_as_better",
        "training",
        'if val_stats["accuracy"] > best_accuracy:',
        'if val_stats["accuracy"] >= best_accuracy:',
        _fails("training/early_stopping", "training/restores_best_weights", "training/unseen_early_stopping"),
        "a tie resets patience (runs too long) and moves best_epoch to a later, equal epoch",
    ),
    Bug(
        "fit_patience_off_by_one",
        "training",
        "if epochs_without_improvement >= patience:",
        "if epochs_without_improvement > patience:",
        _fails("training/early_stopping", "training/restores_best_weights", "training/unseen_early_stopping"),
        "waits patience + 1 epochs without improvement before stopping (and so may find a later best epoch)",
    ),
    Bug(
        "fit_state_dict_not_copied",
        "training",
        "best_state = copy.deepcopy(model.state_dict())",
        "best_state = model.state_dict()",
        _fails("training/restores_best_weights", "training/unseen_early_stopping"),
        "state_dict() holds references to the live tensors, so the 'best' weights keep training",
    ),
    Bug(
        "evaluate_restores_only_the_top_module",
        "training",
        "        for module, flag in was_training.items():  # put the model back the way we found it\n"
        "            module.train(flag)\n",
        "        model.train(was_training[model])\n",
        _fails("training/evaluate_restores_mode"),
        "model.train(flag) sets every submodule to the top module's flag: mixed submodule modes are lost",
    ),
    Bug(
        "train_squeezes_the_logits",
        "training",
        "        out = model(x)\n        loss = loss_fn(out, y)\n",
        "        out = model(x).squeeze()\n        loss = loss_fn(out, y)\n",
        _fails(
            "training/train_one_epoch_updates",
            "training/train_one_epoch_statistics",
            "training/zero_grad",
            "training/unseen_epoch",
        ),
        "squeeze() drops the batch dimension of a last batch of one sample, and the loss fails there",
    ),
    Bug(
        "evaluate_squeezes_the_logits",
        "training",
        "                out = model(x)\n",
        "                out = model(x).squeeze()\n",
        _fails("training/evaluate", "training/unseen_evaluate"),
        "squeeze() drops the batch dimension of a last batch of one sample",
    ),
    Bug(
        "fit_sums_batch_losses",
        "training",
        '        history["train_loss"].append(train_stats["loss"])\n',
        '        history["train_loss"].append(train_stats["loss"] * len(train_loader))\n',
        _fails("training/early_stopping", "training/unseen_early_stopping"),
        "train_loss must hold each epoch's mean loss per sample, not a sum over batches",
    ),
    Bug(
        "fit_epochs_zero_reports_epoch_0",
        "training",
        '    history = {"train_loss": [], "val_accuracy": [], "best_epoch": -1}',
        '    history = {"train_loss": [], "val_accuracy": [], "best_epoch": 0}',
        _fails("training/restores_best_weights"),
        "with epochs=0 there is no best epoch: best_epoch is -1",
    ),
    Bug(
        "saliency_marks_the_callers_x",
        "gradcam",
        "            x_in = x.detach().clone().requires_grad_(True)\n",
        "            x_in = x.requires_grad_(True)\n",
        _fails("gradcam/saliency_map", "gradcam/unseen_saliency"),
        "requires_grad_ on the caller's own x changes it (and fills its .grad)",
    ),
    Bug(
        "activations_without_a_copy",
        "gradcam",
        "            outputs[i] = output.detach().clone()  # a later in-place op must not change it\n",
        "            outputs[i] = output.detach()\n",
        _fails("gradcam/activations"),
        "without a copy, the in-place ReLU after the layer overwrites the returned activation",
    ),
    Bug(
        "grad_cam_switches_to_eval",
        "gradcam",
        "    handle = target_layer.register_forward_hook(keep_output)\n",
        "    model.eval()  # (restored in finally)\n    handle = target_layer.register_forward_hook(keep_output)\n",
        _fails("gradcam/computes_in_callers_mode"),
        "the contract says: compute in the mode the model is in (a batch-norm model in train mode shows it); "
        "the map's math is right, so only the mode's check is lost",
    ),
    Bug(
        "saliency_switches_to_eval",
        "gradcam",
        "            x_in = x.detach().clone().requires_grad_(True)\n",
        "            model.eval()  # (restored in finally)\n"
        "            x_in = x.detach().clone().requires_grad_(True)\n",
        _fails("gradcam/computes_in_callers_mode"),
        "saliency computed in eval mode whatever the caller's mode: the same map for a batch-norm model in both",
    ),
    Bug(
        "gradcam_normalise_after_upsampling",
        "gradcam",
        "    normalised = torch.zeros_like(cam)\n"
        "    for i in range(cam.shape[0]):\n"
        "        lo, hi = cam[i].min(), cam[i].max()\n"
        "        if hi > lo:  # a constant map stays all zeros instead of 0 / 0 = NaN\n"
        "            normalised[i] = (cam[i] - lo) / (hi - lo)\n"
        "\n"
        '    upsampled = F.interpolate(normalised.unsqueeze(1), size=x.shape[-2:], mode="bilinear", '
        "align_corners=False)\n"
        "    return upsampled.squeeze(1)\n",
        '    cam = F.interpolate(cam.unsqueeze(1), size=x.shape[-2:], mode="bilinear", align_corners=False)\n'
        "    cam = cam.squeeze(1)\n"
        "    normalised = torch.zeros_like(cam)\n"
        "    for i in range(cam.shape[0]):\n"
        "        lo, hi = cam[i].min(), cam[i].max()\n"
        "        if hi > lo:\n"
        "            normalised[i] = (cam[i] - lo) / (hi - lo)\n"
        "    return normalised\n",
        _fails("gradcam/matches_reference", "gradcam/unseen_inputs"),
        "bilinear upsampling lowers interior peaks, so normalising afterwards stretches the map differently",
    ),
    Bug(
        "gradcam_align_corners",
        "gradcam",
        'mode="bilinear", align_corners=False)',
        'mode="bilinear", align_corners=True)',
        _fails("gradcam/matches_reference", "gradcam/unseen_inputs"),
        "align_corners=True samples the small map at different positions than the specified upsampling",
    ),
]

# Correct submissions written differently: each must keep every point (tests/test_corpus.py).
CORRECT_VARIANTS: list[Bug] = [
    Bug(
        "fit_best_state_by_clones",
        "training",
        "            best_state = copy.deepcopy(model.state_dict())\n",
        "            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}\n",
        frozenset(),
        "a dict of cloned tensors keeps the best weights as well as a deep copy does",
    ),
    Bug(
        "train_zero_grad_through_the_model",
        "training",
        "        optimizer.zero_grad()  # gradients add up across backward() calls unless cleared\n",
        "        model.zero_grad(set_to_none=True)  # the optimizer steps the model's own parameters\n",
        frozenset(),
        "clearing the model's gradients clears the optimizer's, which are the same parameters",
    ),
    Bug(
        "gradcam_weights_as_sum_over_area",
        "gradcam",
        "    weights = dA.mean(dim=(2, 3), keepdim=True)  # N x C x 1 x 1: one weight per channel and sample\n",
        "    weights = dA.sum(dim=(2, 3), keepdim=True) / (dA.shape[2] * dA.shape[3])\n",
        frozenset(),
        "the spatial mean written as a sum over the area",
    ),
    Bug(
        "saliency_amax",
        "gradcam",
        "    return dx.abs().max(dim=1).values  # N x H x W\n",
        "    return torch.amax(dx.abs(), dim=1)\n",
        frozenset(),
        "amax is max without the indices",
    ),
]
