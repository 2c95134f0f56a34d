"""Tests of the grader's reference implementations, cross-checked against the model answers.

Both ``reference/`` and ``solutions/`` are loaded from their files (they are trusted code) and most tests
run on both, so a mistake in one shows up as a disagreement with the other or with PyTorch itself.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
MODULE_NAMES = ("shapes", "quadrant", "gradcam", "training")


def _load(folder: str, name: str) -> ModuleType:
    """Import ``<folder>/<name>.py`` under a name of its own (no clash with other copies)."""
    spec = importlib.util.spec_from_file_location(f"_test_{folder}_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPLS = {
    folder: SimpleNamespace(**{n: _load(folder, n) for n in MODULE_NAMES}) for folder in ("reference", "solutions")
}
REF = IMPLS["reference"]
HYPOTHESIS = settings(derandomize=True, database=None, max_examples=200, deadline=None)


@pytest.fixture(params=sorted(IMPLS))
def impl(request) -> SimpleNamespace:
    return IMPLS[request.param]


# --------------------------------------------------------------------------------------------- shapes


@st.composite
def conv_configs(draw):
    return dict(
        size=draw(st.integers(1, 40)),
        kernel_size=draw(st.integers(1, 7)),
        stride=draw(st.integers(1, 4)),
        padding=draw(st.integers(0, 3)),
        dilation=draw(st.integers(1, 3)),
    )


@st.composite
def pool_configs(draw):
    kernel_size = draw(st.integers(1, 6))
    return dict(
        size=draw(st.integers(1, 40)),
        kernel_size=kernel_size,
        stride=draw(st.none() | st.integers(1, 4)),
        padding=draw(st.integers(0, kernel_size // 2)),  # PyTorch: pad <= kernel_size / 2
        dilation=draw(st.integers(1, 3)),
        ceil_mode=draw(st.booleans()),
    )


@HYPOTHESIS
@given(conv_configs())
def test_conv_output_size_matches_conv2d(cfg):
    size = cfg.pop("size")
    layer = nn.Conv2d(1, 1, **cfg)
    eff = cfg["dilation"] * (cfg["kernel_size"] - 1) + 1
    assume(size + 2 * cfg["padding"] >= eff)  # PyTorch rejects outputs < 1
    expected = layer(torch.zeros(1, 1, size, 1 + 2 * eff)).shape[-2]
    for impl in IMPLS.values():
        assert impl.shapes.conv_output_size(size, **cfg) == expected


@HYPOTHESIS
@given(pool_configs())
def test_pool_output_size_matches_maxpool2d(cfg):
    size = cfg.pop("size")
    try:
        expected = nn.MaxPool2d(**cfg)(torch.zeros(1, 1, size, 16)).shape[-2]
    except RuntimeError:  # output smaller than 1: not a valid configuration
        assume(False)
    for impl in IMPLS.values():
        assert impl.shapes.pool_output_size(size, **cfg) == expected


def test_shape_examples_from_the_contract(impl):
    s = impl.shapes
    assert s.conv_output_size(28, 5) == 24
    assert s.conv_output_size(5, 3, stride=2, padding=1) == 3
    assert s.pool_output_size(24, 2) == 12
    assert s.pool_output_size(5, 2, ceil_mode=True) == 3
    # ceil_mode would start a third window in the right padding: PyTorch drops it.
    assert s.pool_output_size(3, 2, stride=2, padding=1, ceil_mode=True) == 2
    assert s.conv_params(1, 8, 5) == 208
    assert s.linear_params(1936, 32) == 61984


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(
    groups=st.integers(1, 3),
    in_per_group=st.integers(1, 3),
    out_per_group=st.integers(1, 3),
    kernel=st.integers(1, 5) | st.tuples(st.integers(1, 5), st.integers(1, 5)),
    bias=st.booleans(),
)
def test_conv_params_matches_conv2d(groups, in_per_group, out_per_group, kernel, bias):
    cin, cout = groups * in_per_group, groups * out_per_group
    expected = _numel(nn.Conv2d(cin, cout, kernel, bias=bias, groups=groups))
    for impl in IMPLS.values():
        assert impl.shapes.conv_params(cin, cout, kernel, bias=bias, groups=groups) == expected


@pytest.mark.parametrize("fin,fout", [(1, 1), (3, 7), (1936, 32)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_params_matches_linear(impl, fin, fout, bias):
    assert impl.shapes.linear_params(fin, fout, bias) == _numel(nn.Linear(fin, fout, bias=bias))


def test_count_parameters_ties_frozen_and_buffers(impl):
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4)  # 40
    head = nn.Linear(4, 10)  # 50; its weight is tied to emb's below
    head.weight = emb.weight
    frozen = nn.Linear(4, 3)  # 15, frozen
    frozen.requires_grad_(False)
    model = nn.Sequential(emb, head, frozen, nn.BatchNorm1d(3))  # BatchNorm: 6 parameters + buffers
    assert impl.shapes.count_parameters(model) == 40 + 10 + 6
    assert impl.shapes.count_parameters(model, trainable_only=False) == 40 + 10 + 15 + 6


@pytest.mark.parametrize("c", [4, 8, 16])
@pytest.mark.parametrize("size", [56, 84])
def test_quadrant_net_shapes_follow_real_layers(impl, c, size):
    x = torch.zeros(1, 1, size, size)
    shapes = []
    for conv in (nn.Conv2d(1, c, 5), nn.Conv2d(c, 2 * c, 5)):
        x = conv(x)
        shapes.append(tuple(x.shape[1:]))
        x = F.max_pool2d(x, 2)
        shapes.append(tuple(x.shape[1:]))
    assert impl.shapes.quadrant_net_shapes(c, size) == shapes
    assert impl.shapes.quadrant_net_shapes()[-1] == (16, 11, 11)


# ------------------------------------------------------------------------------------------- quadrant


def _layer_sizes(model: nn.Module) -> list[int]:
    return [_numel(m) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("c", [4, 8, 16])
def test_quadrant_net_parameters_and_output(impl, c):
    model = impl.quadrant.QuadrantNet(num_channel=c)
    expected = [
        REF.shapes.conv_params(1, c, 5),
        REF.shapes.conv_params(c, 2 * c, 5),
        REF.shapes.linear_params(2 * c * 11 * 11, 4 * c),
        REF.shapes.linear_params(4 * c, 2 * c),
        REF.shapes.linear_params(2 * c, 10),
    ]
    assert _layer_sizes(model) == expected
    assert model(torch.zeros(3, 1, 56, 56)).shape == (3, 10)
    assert impl.quadrant.QuadrantNet(c, num_classes=4)(torch.zeros(2, 1, 56, 56)).shape == (2, 4)


def test_quadrant_net_default_counts(impl):
    model = impl.quadrant.QuadrantNet()
    assert _layer_sizes(model) == [208, 3216, 61984, 528, 170]
    assert REF.shapes.count_parameters(model) == 66_106


def _copy_by_position(src: nn.Module, dst: nn.Module) -> None:
    """Copy parameters in registration order (the two implementations name their layers differently)."""
    with torch.no_grad():
        for p, q in zip(src.parameters(), dst.parameters(), strict=True):
            q.copy_(p)


@pytest.mark.parametrize("name", ["QuadrantNet", "RobustQuadrantNet"])
def test_solution_nets_compute_the_reference_function(name):
    torch.manual_seed(0)
    ref, sol = getattr(REF.quadrant, name)(6), getattr(IMPLS["solutions"].quadrant, name)(6)
    _copy_by_position(ref, sol)
    x = torch.rand(4, 1, 56, 56)
    torch.testing.assert_close(sol(x), ref(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [56, 84, 40])
def test_robust_net_accepts_other_sizes(impl, size):
    model = impl.quadrant.RobustQuadrantNet()
    assert model(torch.rand(2, 1, size, size)).shape == (2, 10)
    assert impl.quadrant.RobustQuadrantNet(4, num_classes=3)(torch.rand(1, 1, size, size)).shape == (1, 3)


def test_robust_net_ignores_where_the_digit_sits(impl):
    """Padding 2 + global max pooling: a shift by a multiple of the total stride (4) keeps the logits."""
    torch.manual_seed(1)
    model = impl.quadrant.RobustQuadrantNet().eval()
    digit = torch.rand(12, 12)
    top_left, bottom_right = torch.zeros(1, 1, 56, 56), torch.zeros(1, 1, 56, 56)
    top_left[0, 0, 12:24, 12:24] = digit
    bottom_right[0, 0, 28:40, 28:40] = digit
    torch.testing.assert_close(model(bottom_right), model(top_left), rtol=0, atol=1e-5)


# -------------------------------------------------------------------------------------------- gradcam


class HandNet(nn.Module):
    """conv(1 -> 2, 2x2, stride 2) -> ReLU -> flatten -> Linear(2*3*5 -> 3), for 6 x 10 inputs.

    The conv's weights are set by hand (``W_CONV``, ``B_CONV``) so that its output can be written out
    in numpy; the Linear's weights are fixed random numbers, so the gradient varies across the map.
    """

    W_CONV = np.array([[[1.0, -1.0], [0.5, 0.0]], [[0.0, 1.0], [-1.0, 0.5]]])
    B_CONV = np.array([0.2, -0.1])

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=2, stride=2)
        self.relu = nn.ReLU(inplace=inplace)
        self.fc = nn.Linear(2 * 3 * 5, 3)
        rng = np.random.default_rng(5)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(self.W_CONV[:, None]))
            self.conv.bias.copy_(torch.from_numpy(self.B_CONV))
            self.fc.weight.copy_(torch.from_numpy(rng.normal(size=(3, 30))))
            self.fc.bias.copy_(torch.from_numpy(rng.normal(size=3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).flatten(1))

    @classmethod
    def conv_np(cls, x: torch.Tensor) -> np.ndarray:
        """The conv's output in float64: each output pixel sees one 2 x 2 block of x."""
        blocks = x.double().numpy()[:, 0].reshape(len(x), 3, 2, 5, 2)  # n, i, a, j, b
        return np.einsum("niajb,cab->ncij", blocks, cls.W_CONV) + cls.B_CONV[None, :, None, None]


def _bilinear_np(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (``align_corners=False``), written out for 2-D arrays."""

    def axis(n_in: int, n_out: int):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0

    r0, r1, ly = axis(img.shape[0], out_h)
    c0, c1, lx = axis(img.shape[1], out_w)
    top = img[r0][:, c0] * (1 - lx) + img[r0][:, c1] * lx
    bottom = img[r1][:, c0] * (1 - lx) + img[r1][:, c1] * lx
    return top * (1 - ly)[:, None] + bottom * ly[:, None]


def _hand_grad_cam(model: HandNet, x: torch.Tensor, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Expected Grad-CAM of ``HandNet`` computed in float64 numpy, plus the raw (unnormalised) maps."""
    A = HandNet.conv_np(x)  # N x 2 x 3 x 5
    V = model.fc.weight.detach().double().numpy().reshape(3, 2, 3, 5)
    expected, raw = [], []
    for i, k in enumerate(classes):
        grad = V[k] * (A[i] > 0)  # d logit_k / dA through the ReLU
        alpha = grad.mean(axis=(1, 2))
        cam = np.maximum(np.einsum("c,chw->hw", alpha, A[i]), 0.0)
        raw.append(cam)
        span = cam.max() - cam.min()
        cam = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
        expected.append(_bilinear_np(cam, 6, 10))
    return np.stack(expected), np.stack(raw)


def _hand_logits(model: HandNet, x: torch.Tensor) -> np.ndarray:
    A = HandNet.conv_np(x)
    fc_w, fc_b = model.fc.weight.detach().double().numpy(), model.fc.bias.detach().double().numpy()
    return np.maximum(A, 0).reshape(len(x), -1) @ fc_w.T + fc_b


def _hand_input(n: int = 3) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).uniform(size=(n, 1, 6, 10))).float()


@pytest.mark.parametrize("inplace", [False, True])
def test_grad_cam_matches_hand_computation(impl, inplace):
    model, x = HandNet(inplace), _hand_input()
    classes = [0, 2, 1]
    expected, raw = _hand_grad_cam(model, x, classes)
    for r in raw:  # large maps, clipped by the ReLU in places
        assert r.max() > 0.1 and 0 < (r == 0).sum() < r.size
    cam = impl.gradcam.grad_cam(model, x, model.conv, torch.tensor(classes))
    assert cam.shape == (3, 6, 10) and cam.dtype == torch.float32
    assert not cam.requires_grad
    np.testing.assert_allclose(cam.numpy(), expected, rtol=0, atol=1e-6)
    assert cam.min() >= 0 and cam.max() <= 1


def test_grad_cam_target_forms(impl):
    model, x = HandNet(), _hand_input()
    by_int = impl.gradcam.grad_cam(model, x, model.conv, 1)
    by_tensor = impl.gradcam.grad_cam(model, x, model.conv, torch.tensor([1, 1, 1]))
    torch.testing.assert_close(by_int, by_tensor, rtol=0, atol=0)
    np.testing.assert_allclose(by_int.numpy(), _hand_grad_cam(model, x, [1, 1, 1])[0], rtol=0, atol=1e-6)

    argmax = _hand_logits(model, x).argmax(axis=1).tolist()
    by_none = impl.gradcam.grad_cam(model, x, model.conv)
    np.testing.assert_allclose(by_none.numpy(), _hand_grad_cam(model, x, argmax)[0], rtol=0, atol=1e-6)


def test_grad_cam_is_invariant_to_scaling_the_logits(impl):
    model, x = HandNet(), _hand_input()
    before = impl.gradcam.grad_cam(model, x, model.conv)
    with torch.no_grad():
        model.fc.weight.mul_(7.0)
        model.fc.bias.mul_(7.0)
    torch.testing.assert_close(impl.gradcam.grad_cam(model, x, model.conv), before, rtol=0, atol=1e-6)


def test_grad_cam_constant_map_is_zeros(impl):
    model, x = HandNet(), _hand_input()
    with torch.no_grad():
        model.conv.weight.zero_()  # the conv output is its bias everywhere
    cam = impl.gradcam.grad_cam(model, x, model.conv, 0)
    assert torch.equal(cam, torch.zeros(3, 6, 10))


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return REF.quadrant.QuadrantNet(4).eval()


def test_grad_cam_batch_equals_one_by_one(impl):
    model = _small_cnn()
    x = torch.rand(4, 1, 56, 56)
    classes = torch.tensor([3, 0, 7, 3])
    batch = impl.gradcam.grad_cam(model, x, model.conv2, classes)
    single = torch.cat([impl.gradcam.grad_cam(model, x[i : i + 1], model.conv2, int(classes[i])) for i in range(4)])
    assert batch.shape == (4, 56, 56)
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_grad_cam_implementations_agree_on_a_cnn():
    model = _small_cnn()
    x = torch.rand(3, 1, 56, 56)
    for layer in (model.conv1, model.conv2, model.pool2):
        ref = REF.gradcam.grad_cam(model, x, layer)
        sol = IMPLS["solutions"].gradcam.grad_cam(model, x, layer)
        torch.testing.assert_close(sol, ref, rtol=0, atol=1e-5)


def test_grad_cam_works_frozen_and_under_no_grad(impl):
    model = _small_cnn()
    x = torch.rand(2, 1, 56, 56)
    expected = impl.gradcam.grad_cam(model, x, model.conv2)
    model.requires_grad_(False)
    with torch.no_grad():
        got = impl.gradcam.grad_cam(model, x, model.conv2)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def _hook_dicts(module: nn.Module) -> list[dict]:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return [getattr(module, name) for name in names if hasattr(module, name)]


def _snapshot(model: nn.Module) -> dict:
    return {
        "modes": [m.training for m in model.modules()],
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
    }


def _assert_untouched(model: nn.Module, before: dict) -> None:
    assert [m.training for m in model.modules()] == before["modes"]
    for m in model.modules():
        assert all(len(d) == 0 for d in _hook_dicts(m)), f"hook left on {m}"
    assert not nn.modules.module._global_forward_hooks and not nn.modules.module._global_backward_hooks
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before["weights"].items())
    for p, g in zip(model.parameters(), before["grads"], strict=True):
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)


def _mixed_model() -> nn.Module:
    model = _small_cnn()
    model.train()
    model.conv1.eval()
    model.relu3.eval()
    model.fc3.eval()
    model.conv2.weight.grad = torch.randn_like(model.conv2.weight)
    model.fc1.bias.grad = torch.randn_like(model.fc1.bias)
    return model


@pytest.mark.parametrize("fn", ["grad_cam", "saliency_map"])
def test_no_side_effects(impl, fn):
    model = _mixed_model()
    before = _snapshot(model)
    x = torch.rand(2, 1, 56, 56)
    x_before = x.clone()
    args = (model.conv2,) if fn == "grad_cam" else ()
    out = getattr(impl.gradcam, fn)(model, x, *args)
    assert out.shape == (2, 56, 56) and not out.requires_grad
    _assert_untouched(model, before)
    assert torch.equal(x, x_before) and x.grad is None and not x.requires_grad


@pytest.mark.parametrize("fn", ["grad_cam", "saliency_map"])
@pytest.mark.parametrize("failure", ["bad_class", "bad_input"])
def test_no_side_effects_on_error(impl, fn, failure):
    model = _mixed_model()
    before = _snapshot(model)
    if failure == "bad_class":
        x, target = torch.rand(2, 1, 56, 56), 99
    else:  # conv1 and conv2 run (the hook fires), then fc1 gets the wrong number of features
        x, target = torch.rand(2, 1, 60, 60), None
    args = (model.conv2,) if fn == "grad_cam" else ()
    with pytest.raises((IndexError, ValueError, RuntimeError)):
        getattr(impl.gradcam, fn)(model, x, *args, target_class=target)
    _assert_untouched(model, before)


def test_activations_match_direct_calls(impl):
    model = _small_cnn()
    x = torch.rand(2, 1, 56, 56)
    with torch.no_grad():
        c1 = model.conv1(x)
        p1 = model.pool1(model.relu1(c1))
        c2 = model.conv2(p1)
        logits = model(x)
    before = _snapshot(model)
    got = impl.gradcam.activations(model, x, [model.fc3, model.conv1, model.conv2, model.conv1])
    for out, expected in zip(got, [logits, c1, c2, c1], strict=True):
        assert not out.requires_grad
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
    _assert_untouched(model, before)


class Twice(nn.Module):
    """Applies one conv twice: ``activations`` reports its last output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x))


def test_activations_keep_the_last_call(impl):
    torch.manual_seed(0)
    model, x = Twice(), torch.rand(1, 1, 5, 5)
    (got,) = impl.gradcam.activations(model, x, [model.conv])
    torch.testing.assert_close(got, model(x), rtol=0, atol=0)


class ModeFlipper(nn.Module):
    """A network whose forward flips a submodule's train/eval flag (the functions must undo it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc.train(not self.fc.training)
        return self.fc(self.conv(x).flatten(1))


@pytest.mark.parametrize("fn", ["grad_cam", "saliency_map"])
def test_modes_restored_even_when_forward_changes_them(impl, fn):
    torch.manual_seed(0)
    model = ModeFlipper().eval()
    before = _snapshot(model)
    args = (model.conv,) if fn == "grad_cam" else ()
    getattr(impl.gradcam, fn)(model, torch.rand(2, 1, 6, 6), *args)
    _assert_untouched(model, before)


def test_activations_remove_hooks_on_error(impl):
    model = _small_cnn()
    before = _snapshot(model)
    with pytest.raises(RuntimeError):
        impl.gradcam.activations(model, torch.rand(1, 1, 60, 60), [model.conv1, model.fc2])
    _assert_untouched(model, before)


def test_saliency_of_a_linear_model(impl):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 5, 6))
    x = torch.rand(3, 3, 4, 5)
    W = model[1].weight.detach().reshape(6, 3, 4, 5)
    classes = [5, 0, 2]
    got = impl.gradcam.saliency_map(model, x, torch.tensor(classes))
    torch.testing.assert_close(got, torch.stack([W[k].abs().amax(dim=0) for k in classes]), rtol=0, atol=0)
    argmax = model(x).argmax(dim=1).tolist()
    got = impl.gradcam.saliency_map(model, x)
    torch.testing.assert_close(got, torch.stack([W[k].abs().amax(dim=0) for k in argmax]), rtol=0, atol=0)
    torch.testing.assert_close(impl.gradcam.saliency_map(model, x, 4), W[4].abs().amax(dim=0).expand(3, 4, 5))


# ------------------------------------------------------------------------------------------- training


def _tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2), nn.Linear(3 * 6 * 6, 4))


def _batches(n: int = 26, batch_size: int = 8, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]


def test_train_one_epoch_bit_identical_across_implementations():
    loader = _batches()
    results, weights = {}, {}
    for name, impl in IMPLS.items():
        model = _tiny_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        torch.manual_seed(123)  # the same dropout masks
        results[name] = [impl.training.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss()) for _ in "ab"]
        weights[name] = model.state_dict()
    assert results["reference"] == results["solutions"]
    assert all(isinstance(v, float) for r in results["reference"] for v in r.values())
    for k, v in weights["reference"].items():
        assert torch.equal(weights["solutions"][k], v), k


def test_train_one_epoch_weighs_samples_not_batches(impl):
    model = _tiny_net().eval()
    loader = _batches(n=10, batch_size=4)  # batches of 4, 4, 2
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay put
    torch.manual_seed(5)
    stats = impl.training.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
    assert model.training
    # Replay the same dropout masks to get each sample's loss.
    torch.manual_seed(5)
    losses, correct = [], 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            losses.append(F.cross_entropy(out, y, reduction="none"))
            correct += int((out.argmax(1) == y).sum())
    per_sample = torch.cat(losses)
    assert stats["loss"] == pytest.approx(per_sample.mean().item(), abs=1e-6)
    assert abs(stats["loss"] - np.mean([b.mean().item() for b in losses])) > 1e-3  # batch means would differ
    assert stats["accuracy"] == correct / 10


def test_evaluate_is_pure_and_correct(impl):
    model = _tiny_net()
    loader = _batches()
    grad_enabled = []

    def loss_fn(out, y):
        grad_enabled.append(torch.is_grad_enabled() or out.requires_grad)
        return F.cross_entropy(out, y)

    for training in (True, False):
        model.train(training)
        before = _snapshot(model)
        stats = impl.training.evaluate(model, loader, loss_fn)
        _assert_untouched(model, before)
        assert not any(grad_enabled)
        x, y = torch.cat([b[0] for b in loader]), torch.cat([b[1] for b in loader])
        model.eval()
        with torch.no_grad():
            out = model(x)
        assert torch.equal(stats["y_true"], y)
        assert torch.equal(stats["y_pred"], out.argmax(1))
        for key in ("y_true", "y_pred"):
            assert stats[key].dtype == torch.int64 and stats[key].dim() == 1 and stats[key].device.type == "cpu"
        assert stats["accuracy"] == (out.argmax(1) == y).sum().item() / len(y)
        assert stats["loss"] == pytest.approx(F.cross_entropy(out, y).item(), abs=1e-6)
        assert isinstance(stats["loss"], float) and isinstance(stats["accuracy"], float)


class LookupNet(nn.Module):
    """Logits looked up per sample index: the weights decide exactly which samples are right."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(4, 2))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table[idx]


LABELS = torch.tensor([0, 1, 0, 1])


def _table(correct: int, tag: float) -> torch.Tensor:
    """Weights that classify the first ``correct`` of 4 samples right; ``tag`` makes each table unique."""
    table = torch.zeros(4, 2)
    for i in range(4):
        right = int(LABELS[i]) if i < correct else 1 - int(LABELS[i])
        table[i, right] = 1.0 + tag
    return table


class ScriptedOptimizer(torch.optim.Optimizer):
    """Each step loads the next table of a script into the model, in place."""

    def __init__(self, params, script: list[torch.Tensor]) -> None:
        super().__init__(params, {})
        self.script = list(script)
        self.steps = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.param_groups[0]["params"][0].copy_(self.script[self.steps])
        self.steps += 1


def _fit(impl, accuracies: list[float], epochs: int, patience: int):
    model = LookupNet()
    script = [_table(int(a * 4), tag=i / 10) for i, a in enumerate(accuracies)]
    optimizer = ScriptedOptimizer(model.parameters(), script)
    loader = [(torch.arange(4), LABELS)]  # one batch: one optimizer step per epoch
    history = impl.training.fit(model, loader, loader, optimizer, nn.CrossEntropyLoss(), epochs, patience)
    return model, script, history


def test_fit_stops_early_and_restores_the_best_weights(impl):
    # Epoch 3 is the best; epoch 5 only ties it; epochs 4, 5, 6 make patience 3 run out.
    accuracies = [0.25, 0.5, 0.5, 0.75, 0.5, 0.75, 0.25, 1.0, 1.0]
    model, script, history = _fit(impl, accuracies, epochs=9, patience=3)
    assert history["val_accuracy"] == accuracies[:7]
    assert len(history["train_loss"]) == 7 and all(isinstance(v, float) for v in history["train_loss"])
    assert history["best_epoch"] == 3
    assert torch.equal(model.table.detach(), script[3])


def test_fit_runs_all_epochs_while_improving(impl):
    model, script, history = _fit(impl, [0.25, 0.5, 0.75], epochs=3, patience=1)
    assert history["val_accuracy"] == [0.25, 0.5, 0.75] and history["best_epoch"] == 2
    assert torch.equal(model.table.detach(), script[2])
    model, script, history = _fit(impl, [0.5, 0.25, 0.5, 1.0], epochs=4, patience=2)
    assert history["val_accuracy"] == [0.5, 0.25, 0.5] and history["best_epoch"] == 0
    assert torch.equal(model.table.detach(), script[0])


def test_fit_implementations_agree():
    histories = {}
    for name, impl in IMPLS.items():
        model = _tiny_net()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        torch.manual_seed(7)
        histories[name] = impl.training.fit(
            model, _batches(), _batches(seed=1), optimizer, nn.CrossEntropyLoss(), epochs=6, patience=2
        )
        histories[name]["weights"] = copy.deepcopy(model.state_dict())
    ref, sol = histories["reference"], histories["solutions"]
    assert {k: v for k, v in ref.items() if k != "weights"} == {k: v for k, v in sol.items() if k != "weights"}
    assert all(torch.equal(sol["weights"][k], v) for k, v in ref["weights"].items())
