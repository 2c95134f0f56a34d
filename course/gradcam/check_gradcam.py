"""gradcam/...: Grad-CAM, activations and saliency against the reference, plus properties and side effects.

Test models (``course.testmodels.CamNet``) have large deterministic weights, so map peaks are far above
any epsilon, and a linear head over the flattened map, so target-layer gradients vary across the image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from course import testmodels, vectors
from course.gradcam.trained import quadrant_cam_weights, quadrant_canvases
from course.vectors import pictures
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.digits import PreparedDigits
from grader.judge.faults import CheckFailure, StudentError
from grader.judge.session import GradingSession

ATOL = 1e-4
GRAD_CAM = "gradcam.grad_cam"


@dataclass(frozen=True)
class CamCase:
    """A model spec, an input batch (seeded) and how to ask for the target class."""

    seed: int
    batch: int
    height: int
    width: int
    target_class: Any = None
    class_as: str = "tensor"
    layer: str = "features.2"
    head_scale: float = 1.0
    batch_norm: bool = False  # with mode "train", the mode a function computes in shows in its values
    inplace: bool = False
    mode: str = "eval"  # the mode the model is handed over in

    @property
    def spec(self) -> dict[str, Any]:
        spec = {
            "name": "cam_net",
            "seed": self.seed,
            "height": self.height,
            "width": self.width,
            "head_scale": self.head_scale,
        }
        return spec | {k: True for k in ("batch_norm", "inplace") if getattr(self, k)}

    def x(self) -> np.ndarray:
        generator = torch.Generator().manual_seed(1000 + self.seed)
        return torch.rand(self.batch, 2, self.height, self.width, generator=generator).numpy()

    def describe(self) -> str:
        klass = "argmax" if self.class_as == "none" else f"{self.class_as} {self.target_class}"
        model = "a test CNN with batch norm, in train mode" if self.mode == "train" else "a test CNN"
        return (
            f"grad_cam on {model}, x of shape {self.batch} x 2 x {self.height} x {self.width}, "
            f"target_layer={self.layer}, target_class={klass}"
        )


AGREEMENT_CASES = (
    CamCase(seed=1, batch=3, height=12, width=20, target_class=[0, 2, 3]),
    CamCase(seed=2, batch=2, height=16, width=16, class_as="none"),
    CamCase(seed=3, batch=1, height=10, width=14, target_class=1, class_as="int", layer="features.0"),
    # after the max pool: a half-resolution map, so upsampling and its order against normalisation matter
    CamCase(seed=12, batch=2, height=12, width=16, target_class=[0, 2], layer="features.5"),
    # handed over in train mode with batch norm: computed in that mode (the contract), not switched to eval
    CamCase(seed=13, batch=3, height=10, width=12, target_class=[1, 0, 2], batch_norm=True, mode="train"),
)
ACTIVATIONS_CASE, ACTIVATION_LAYERS = CamCase(seed=9, batch=2, height=12, width=16), ("features.4", "features.0")
# features.0's output is overwritten by the in-place ReLU after it: activations must return a copy
INPLACE_CASE = CamCase(seed=9, batch=2, height=12, width=16, inplace=True)
SALIENCY_CASE = CamCase(seed=10, batch=2, height=10, width=12, target_class=[1, 3])
SALIENCY_TRAIN_CASE = CamCase(
    seed=14, batch=3, height=9, width=11, target_class=[0, 3, 1], batch_norm=True, mode="train"
)


def class_arg(case: CamCase) -> Any:
    """The ``target_class`` argument as the student's function receives it (for the reference's call)."""
    if case.class_as == "none":
        return None
    if case.class_as == "tensor":
        return torch.tensor(case.target_class)
    return int(case.target_class)


def explain(grading: GradingSession, target: str, what: str, **request: Any) -> dict:
    """Run an explain op once per distinct request (several checks share the observations)."""
    key = ("explain", target, repr(sorted((k, repr(v)) for k, v in request.items())))
    return grading.memo(key, lambda: grading.ask("explain", what, needs=(target,), target=target, **request))


def student_cam(grading: GradingSession, case: CamCase, **extra: Any) -> dict:
    return explain(
        grading,
        GRAD_CAM,
        case.describe(),
        model=case.spec,
        x=case.x(),
        target_layer=case.layer,
        target_class=case.target_class,
        class_as=case.class_as,
        mode=case.mode,
        **extra,
    )


def no_exception(reply: dict, what: str) -> None:
    """Fail the check with the student's exception if the explained call raised."""
    if reply["raised"]:
        raise StudentError(what, reply["raised"])


def cam_output(reply: dict, case: CamCase) -> np.ndarray:
    no_exception(reply, case.describe())
    return expect.as_array(reply["result"], case.describe(), shape=(case.batch, case.height, case.width))


@check(
    "gradcam/matches_reference",
    3,
    hint="take the contract's five steps in its order; the message shows where your map differs most",
)
def test_matches_reference(grading: GradingSession) -> None:
    try:
        for index, case in enumerate(AGREEMENT_CASES):
            if case.mode != "eval":
                continue  # the mode a function computes in is gradcam/computes_in_callers_mode's
            got = cam_output(student_cam(grading, case), case)
            expect.close(got, vectors.array(f"gradcam/agreement_{index}"), ATOL, case.describe())
    finally:  # after the verdict's own calls, which the check's time budget is for
        _keep_pictures(grading)


MODE_CASE = AGREEMENT_CASES[-1]  # a test CNN with batch norm: its maps differ between train and eval mode
SAME_MAP = 1e-5  # maps this close are one computation


@check(
    "gradcam/computes_in_callers_mode",
    1,
    hint="do not call model.eval() or model.train(): compute in the mode the model is in (the caller decides)",
)
def test_computes_in_callers_mode(grading: GradingSession) -> None:
    """grad_cam and saliency_map give other maps for a batch norm model in train mode than in eval mode (batch
    statistics against running statistics), whatever else they compute: a function that switches the model to a
    mode of its own gives the same map for both. Only that fails here; the maps' values are other checks'."""
    as_eval = replace(MODE_CASE, mode="eval")
    train_map = cam_output(student_cam(grading, MODE_CASE), MODE_CASE)
    eval_map = cam_output(student_cam(grading, as_eval), as_eval)
    _differs_by_mode("grad_cam", train_map, eval_map)
    saliency = {mode: _saliency(grading, replace(SALIENCY_TRAIN_CASE, mode=mode)) for mode in ("train", "eval")}
    _differs_by_mode("saliency_map", saliency["train"], saliency["eval"])


def _differs_by_mode(function: str, train_map: np.ndarray, eval_map: np.ndarray) -> None:
    difference = float(np.abs(train_map - eval_map).max())
    if difference <= SAME_MAP:
        raise CheckFailure(
            f"{function} returned the same map (largest difference {difference:.2g}) for a test CNN with batch norm "
            "handed over in train mode and in eval mode, whose outputs differ between the modes: it computes in a "
            "mode of its own (a model.eval() or model.train() inside?). The contract: compute in the mode the model "
            "is in."
        )


@check("gradcam/properties", 3, hint="normalise each map to [0, 1]; return a detached N x H x W tensor")
def test_properties(grading: GradingSession) -> None:
    case = AGREEMENT_CASES[0]
    reply = student_cam(grading, case)
    got = cam_output(reply, case)
    if reply["result"].get("requires_grad"):
        raise CheckFailure(f"{case.describe()} returned a tensor that requires grad; detach it.")
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"{case.describe()} returned NaN or infinite values.")
    if got.min() < -1e-6 or got.max() > 1 + 1e-6:
        raise CheckFailure(f"{case.describe()} returned values in [{got.min():.4g}, {got.max():.4g}], expected [0, 1].")


@check("gradcam/constant_map", 2, hint="when max == min, return zeros instead of dividing by zero")
def test_constant_map(grading: GradingSession) -> None:
    case = CamCase(seed=4, batch=2, height=8, width=8, target_class=[0, 1], head_scale=0.0)
    got = cam_output(student_cam(grading, case), case)
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"{case.describe()} with an all-zero head (a constant map) returned NaN; expected zeros.")
    expect.close(got, np.zeros_like(got), ATOL, f"{case.describe()} with a constant map")


@check("gradcam/logit_scale_invariance", 2, hint="use the logit itself as the score, not its softmax probability")
def test_logit_scale_invariance(grading: GradingSession) -> None:
    base = CamCase(seed=5, batch=2, height=12, width=12, target_class=[1, 2])
    scaled = CamCase(seed=5, batch=2, height=12, width=12, target_class=[1, 2], head_scale=10.0)
    expect.close(
        cam_output(student_cam(grading, scaled), scaled),
        cam_output(student_cam(grading, base), base),
        ATOL,
        "grad_cam after multiplying every logit by 10 (the normalised map must not change)",
    )


@check("gradcam/batched_equals_single", 2, hint="normalise each image's map on its own, not over the whole batch")
def test_batched_equals_single(grading: GradingSession) -> None:
    classes = [0, 1, 2, 3]
    batched = CamCase(seed=6, batch=4, height=12, width=12, target_class=classes)
    together = cam_output(student_cam(grading, batched), batched)
    full_x = batched.x()
    for i, klass in enumerate(classes):
        single = CamCase(seed=6, batch=1, height=12, width=12, target_class=[klass])
        reply = explain(
            grading,
            GRAD_CAM,
            f"grad_cam on image {i} alone",
            model=single.spec,
            x=full_x[i : i + 1],
            target_layer=single.layer,
            target_class=[klass],
            class_as="tensor",
        )
        alone = cam_output(reply, single)
        expect.close(
            together[i : i + 1],
            alone,
            ATOL,
            f"grad_cam of a batch of 4 (classes {classes}), image {i}, compared with the same image graded alone",
        )


@check("gradcam/target_class_forms", 2, hint="accept an int, a tensor of N ints, or None (argmax per sample)")
def test_target_class_forms(grading: GradingSession) -> None:
    as_tensor = CamCase(seed=7, batch=3, height=10, width=10, target_class=[2, 2, 2])
    as_int = CamCase(seed=7, batch=3, height=10, width=10, target_class=2, class_as="int")
    expect.close(
        cam_output(student_cam(grading, as_int), as_int),
        cam_output(student_cam(grading, as_tensor), as_tensor),
        ATOL,
        "grad_cam with target_class=2 compared with target_class=tensor([2, 2, 2])",
    )
    as_none = CamCase(seed=7, batch=3, height=10, width=10, class_as="none")
    model = testmodels.build(as_none.spec).eval()
    with torch.no_grad():
        argmax = model(torch.from_numpy(as_none.x())).argmax(1).tolist()
    explicit = CamCase(seed=7, batch=3, height=10, width=10, target_class=argmax)
    expect.close(
        cam_output(student_cam(grading, as_none), as_none),
        cam_output(student_cam(grading, explicit), explicit),
        ATOL,
        f"grad_cam with target_class=None compared with the argmax classes {argmax}",
    )


def _side_effects(changes: dict[str, list[str]]) -> list[str]:
    labels = {
        "modes": "train/eval flag changed",
        "hooks": "hooks left registered",
        "replaced": "methods replaced on the instance (a hook by another name)",
        "grads": ".grad changed",
        "weights": "weights changed",
    }
    return [f"{labels.get(k, k)}: {', '.join(map(str, v[:4]))}" for k, v in changes.items() if v]


def _input_effects(reply: dict) -> list[str]:
    """What a function did to the caller's x: its values, ``requires_grad`` or ``.grad``."""
    effects = ["x's values changed"] if reply.get("input_modified") else []
    return effects + [f"x's {flag} set" for flag in reply.get("input_flags", [])]


SIDE_EFFECT_HINT = (
    "work on copies and undo what you changed in a finally block: hooks removed, every submodule's mode "
    "restored, torch.autograd.grad instead of backward() so that no .grad is filled, x left as it came"
)


@check("gradcam/no_side_effects", 3, hint=SIDE_EFFECT_HINT)
def test_no_side_effects(grading: GradingSession) -> None:
    case = CamCase(seed=8, batch=2, height=12, width=12, target_class=[0, 1])
    reply = student_cam(grading, case, mixed_modes=True, preset_grads=True)
    no_exception(reply, f"{case.describe()} on a model with mixed train/eval submodules")
    problems = _side_effects(reply["changes"]) + _input_effects(reply)
    if problems:
        raise CheckFailure(f"{case.describe()} changed the model or x: " + "; ".join(problems))
    spec = {**case.spec, "explode": True}
    reply = explain(
        grading,
        GRAD_CAM,
        "grad_cam on a model whose forward raises after the target layer",
        model=spec,
        x=case.x(),
        target_layer=case.layer,
        target_class=[0, 1],
        class_as="tensor",
        mixed_modes=True,
        preset_grads=True,
    )
    problems = _side_effects(reply["changes"])
    if problems:
        raise CheckFailure("when the model's forward raised, grad_cam left the model changed: " + "; ".join(problems))


PEAK_DIGITS = 24


def _keep_pictures(grading: GradingSession) -> None:
    """Evidence for the feedback's pictures: the student's maps on the stored digits and network, beside the
    reference's stored maps (:mod:`course.vectors.pictures`: no data, no reference/ needed, so the student bundle
    draws them too). Nothing here fails a check: a map that cannot be drawn is left out."""
    stored = vectors.picture_arrays()
    if not stored:
        return
    labels = stored["labels"].tolist()
    weights = {key.removeprefix("weight/"): value for key, value in stored.items() if key.startswith("weight/")}
    try:
        reply = explain(
            grading,
            GRAD_CAM,
            "grad_cam on the feedback's digits",
            model={"name": "quadrant_cam"},
            weights=weights,
            x=np.asarray(stored["x"]),
            target_layer=pictures.LAYER,
            target_class=labels,
            class_as="tensor",
        )
        maps = cam_output(reply, CamCase(seed=0, batch=len(labels), height=56, width=56))
    except Exception:  # noqa: BLE001 - a picture is never a verdict: the check's own calls meet any fault again
        return
    images, expected = np.asarray(stored["x"])[:, 0], np.asarray(stored["expected"])
    grading.evidence.add(
        "gradcam:digits", "gradcam/matches_reference", images=images, student=maps, reference=expected, labels=labels
    )


@check("gradcam/peak_on_object", 1, hint="a correct Grad-CAM on a trained digit model peaks on the digit")
def test_peak_on_object(grading: GradingSession, digits: PreparedDigits) -> None:
    # training digits: the robustness checks' held-out digits and their labels never reach the worker
    canvases, corners = quadrant_canvases(digits.split.train_digits[-PEAK_DIGITS:], seed=1)
    x = canvases.numpy()
    labels = digits.split.train_labels[-PEAK_DIGITS:].tolist()
    weights = quadrant_cam_weights(digits.split)
    reply = explain(
        grading,
        GRAD_CAM,
        "grad_cam on a trained quadrant CNN",
        model={"name": "quadrant_cam"},
        weights=weights,
        x=x,
        target_layer="conv2",
        target_class=labels,
        class_as="tensor",
    )
    case = CamCase(seed=0, batch=PEAK_DIGITS, height=56, width=56)
    maps = cam_output(reply, case)
    rows, cols = np.unravel_index(maps.reshape(len(maps), -1).argmax(1), (56, 56))
    peak_corner = (rows >= 28) * 2 + (cols >= 28)  # index into CORNERS: top_left, top_right, bottom_left, ...
    hits = float((peak_corner == corners).mean())
    fraction = grading.options.settings["gradcam"]["peak_fraction"]  # course/course.toml, per data set
    if hits < fraction:
        raise CheckFailure(
            f"on a trained quadrant CNN, the heatmap peak lies in the image's quadrant for {hits:.0%} of "
            f"{PEAK_DIGITS} {grading.options.dataset.name} images (the true class as target); expected at least "
            f"{fraction:.0%}."
        )


@check(
    "gradcam/activations",
    1,
    hint="register forward hooks, collect outputs in the order of `layers`, remove hooks",
)
def test_activations(grading: GradingSession) -> None:
    for case, layers, key, how in (
        (ACTIVATIONS_CASE, list(ACTIVATION_LAYERS), "gradcam/activations", ""),
        (INPLACE_CASE, ["features.0"], "gradcam/activations_inplace", " (an in-place ReLU follows features.0)"),
    ):
        what = f"activations(model, x, layers=[{', '.join(layers)}]){how}"
        reply = explain(grading, "gradcam.activations", what, model=case.spec, x=case.x(), layers=layers)
        no_exception(reply, what)
        items = expect.as_list(reply["result"], what, length=len(layers))
        for name, item in zip(layers, items, strict=True):
            want = vectors.array(f"{key}/{name}")
            got = expect.as_array(item, f"{what}, output of {name}", tuple(want.shape))
            hint = (
                "return a copy of each output: a later in-place operation changes the layer's own tensor"
                if how
                else None
            )
            try:
                expect.close(got, want, ATOL, f"{what}, output of {name}")
            except CheckFailure as exc:
                raise CheckFailure(exc.message, hint=hint) from None
        problems = _side_effects(reply["changes"]) + _input_effects(reply)
        if problems:
            raise CheckFailure(f"{what} changed the model or x: " + "; ".join(problems), hint=SIDE_EFFECT_HINT)


def _saliency_call(grading: GradingSession, case: CamCase) -> tuple[str, dict]:
    model = f"a test CNN with batch norm, in {case.mode} mode" if case.batch_norm else "a test CNN"
    what = f"saliency_map(model, x, target_class=tensor({case.target_class})) on {model}"
    reply = explain(
        grading,
        "gradcam.saliency_map",
        what,
        model=case.spec,
        x=case.x(),
        target_class=case.target_class,
        class_as="tensor",
        mode=case.mode,
    )
    return what, reply


def _saliency(grading: GradingSession, case: CamCase) -> np.ndarray:
    what, reply = _saliency_call(grading, case)
    no_exception(reply, what)
    return expect.as_array(reply["result"], what, (case.batch, case.height, case.width))


def saliency_matches(grading: GradingSession, case: CamCase, want: np.ndarray) -> None:
    """saliency_map on ``case`` equals ``want`` and leaves the model and its input alone."""
    what, reply = _saliency_call(grading, case)
    got = _saliency(grading, case)
    expect.close(got, want, ATOL * max(1.0, float(np.abs(want).max())), what)
    problems = _side_effects(reply["changes"]) + _input_effects(reply)
    if problems:
        raise CheckFailure(f"{what} changed the model or x: " + "; ".join(problems), hint=SIDE_EFFECT_HINT)


@check("gradcam/saliency_map", 1, hint="the gradient of one logit with respect to the input, per pixel")
def test_saliency_map(grading: GradingSession) -> None:
    saliency_matches(grading, SALIENCY_CASE, vectors.array("gradcam/saliency"))
