"""robustness/...: train the student's networks on top-left digits, test them on both corners.

The networks are judged in the judge: rebuilt from their exported graphs (:mod:`course.quadrant.networks`), started
from the judge's own initial weights (:mod:`grader.netinit`), trained with the grader's own seeded trainer
(:mod:`grader.trainer`) and tested on a secret sample of digits never trained on (:mod:`course.robustness.testdigits`);
neither the digits nor their labels reach the worker. The trainings start before the first check
(:func:`prefetch`) and run while the other groups are graded; this group is graded last.

What the checks measure (budget and thresholds from docs/calibration.md):

- ``*_learns_top_left``: learning. Top-left accuracy reaches :data:`LEARNS_TOP_LEFT`.
- ``robust_net_keeps_bottom_right``: invariance, not speed. Bottom-right accuracy is at least
  :data:`KEEPS_FRACTION` of top-left accuracy, wherever top-left is clearly above chance
  (:data:`ABOVE_CHANCE`; chance is 0.1), so a correct but slow design keeps these points.
- ``quadrant_net_fails_bottom_right``: the specified flatten head learns top-left and collapses
  bottom-right (at most :data:`FLATTEN_BOTTOM_RIGHT_MAX`).
- The two QuadrantNet checks are only awarded to the specified network (``quadrant/layer_shapes`` and
  ``quadrant/forward_ops`` hold); a different network is told why.

A measurement that misses its threshold, or lies within :data:`MARGIN` of it, is measured again: the network
is trained with two more seeds and the median of the three decides, and the message says so (a training's luck
alone does not cost a student points). Each measurement also counts how often the network gives the same answer
for a digit in both corners, which messages and the feedback show. :func:`settle` and :func:`verdicts_from_runs`
are the rules, shared with ``bench/calibrate_quadrant.py``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from course.quadrant import networks
from course.quadrant.networks import OTHER_SIZES, QUADRANT_NET, ROBUST_NET, network
from course.robustness import testdigits
from grader import coursepkg, fastgraph, netgraph, netinit, netops, trainer
from grader.checks.registry import check
from grader.fastgraph import training_form
from grader.judge.digits import PreparedPools, prepare_pools
from grader.judge.faults import CheckFailure, GraderFault, SubmissionFault
from grader.judge.obscache import sources_digest
from grader.judge.session import GradingSession
from grader.netexport import probe
from grader.quadrants import digits_to_canvas
from grader.trainer import Budget, TrainingTooLong, predict, train_classifier


@dataclass(frozen=True)
class Robustness:
    """This group's settings: the training budget and thresholds (``[settings.robustness]`` of course/course.toml,
    with a data set's calibrated values; an instructor's configuration retunes them)."""

    images: int  # training images (shuffled passes over the training digits)
    batch_size: int
    lr: float
    learns_top_left: float
    above_chance: float
    keeps_fraction: float
    flatten_bottom_right_max: float
    margin: float
    extra_seeds: int

    @classmethod
    def of(cls, grading: GradingSession) -> Robustness:
        """The settings of ``grading`` (its course configuration's)."""
        return cls(**grading.options.settings["robustness"])


DEFAULT = Robustness(**coursepkg.current().settings["robustness"])  # the course's, calibrated on its data set
LEARNS_TOP_LEFT = DEFAULT.learns_top_left
ABOVE_CHANCE = DEFAULT.above_chance
FLATTEN_BOTTOM_RIGHT_MAX = DEFAULT.flatten_bottom_right_max
KEEPS_FRACTION = DEFAULT.keeps_fraction
MARGIN = DEFAULT.margin  # a value this close to its threshold is measured again with more seeds
EXTRA_SEEDS = DEFAULT.extra_seeds
CORNERS = ("top_left", "bottom_right")


def measurement_seed(grading: GradingSession, index: int) -> int:
    """The seed of the ``index``-th measurement: the grading seed, then re-measurement seeds far from any user's."""
    return grading.options.seed + index * 1000


def budget_of(settings: Robustness = DEFAULT, seed: int = 0) -> Budget:
    return Budget(images=settings.images, batch_size=settings.batch_size, lr=settings.lr, seed=seed)


BUDGET = budget_of()
ILLUSTRATES = {  # the check whose verdict a network's accuracy bars and confusion matrix illustrate
    "QuadrantNet": "robustness/quadrant_net_fails_bottom_right",
    "RobustQuadrantNet": "robustness/robust_net_keeps_bottom_right",
}
# how a network is initialised, trained and tested: stored accuracies follow from these files too
TRAINER_SOURCES = sources_digest(
    *(Path(m.__file__) for m in (trainer, fastgraph, netinit, netgraph, netops, testdigits))
)


# --- the rules ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measurement: accuracy on the test digits in each corner, and how often the two answers agree."""

    top_left: float
    bottom_right: float
    agreement: float


def ratio(run: Run) -> float:
    """Bottom-right accuracy as a fraction of top-left accuracy."""
    return run.bottom_right / run.top_left if run.top_left > 0 else 0.0


@dataclass(frozen=True)
class Condition:
    """``metric(run)`` must be at least (``above``) or at most ``threshold``."""

    what: str
    metric: Callable[[Run], float]
    threshold: float
    above: bool = True

    def holds(self, value: float) -> bool:
        return value >= self.threshold if self.above else value <= self.threshold


def rules(settings: Robustness = DEFAULT) -> dict[str, tuple[Condition, ...]]:
    """Check -> the conditions that must all hold, with ``settings``' thresholds."""
    learns = Condition("top-left accuracy", lambda r: r.top_left, settings.learns_top_left)
    above = Condition("top-left accuracy", lambda r: r.top_left, settings.above_chance)
    keeps = Condition("bottom-right / top-left", ratio, settings.keeps_fraction)
    collapses = Condition(
        "bottom-right accuracy", lambda r: r.bottom_right, settings.flatten_bottom_right_max, above=False
    )
    return {
        "quadrant_net_learns_top_left": (learns,),
        "quadrant_net_fails_bottom_right": (learns, collapses),
        "robust_net_learns_top_left": (learns,),
        "robust_net_keeps_bottom_right": (above, keeps),
    }


RULES = rules()
CHECKS_OF = {"flatten": ("quadrant_net_learns_top_left", "quadrant_net_fails_bottom_right")}


def settle(
    condition: Condition, runs: Callable[[int], list[Run]], settings: Robustness = DEFAULT
) -> tuple[bool, float, bool]:
    """(holds, the deciding value, whether it was measured again): the first run decides where it holds by more
    than ``settings.margin``; where it fails, or lies within the margin of the threshold, the median of the first
    run and ``settings.extra_seeds`` more decides (a training's luck alone does not cost a student points).
    ``runs(n)`` returns the first ``n`` measurements."""
    first = condition.metric(runs(1)[0])
    clear = condition.holds(first) and abs(first - condition.threshold) > settings.margin
    if clear or settings.extra_seeds == 0:
        return condition.holds(first), first, False
    value = statistics.median(condition.metric(run) for run in runs(1 + settings.extra_seeds))
    return condition.holds(value), value, True


def verdicts_from_runs(runs: list[Run], kind: str, settings: Robustness = DEFAULT) -> dict[str, bool]:
    """The checks' verdicts on measurements of one design (the bench's entry point)."""
    names = CHECKS_OF.get(kind, ("robust_net_learns_top_left", "robust_net_keeps_bottom_right"))
    table = rules(settings)
    return {name: all(settle(c, lambda n: runs[:n], settings)[0] for c in table[name]) for name in names}


def expected_verdicts(kind: str) -> dict[str, bool]:
    """What a design of ``kind`` should get (``partial`` designs have no expected verdict)."""
    return {
        "flatten": {"quadrant_net_learns_top_left": True, "quadrant_net_fails_bottom_right": True},
        "robust": {"robust_net_learns_top_left": True, "robust_net_keeps_bottom_right": True},
        "invariant": {"robust_net_learns_top_left": False, "robust_net_keeps_bottom_right": True},
        "not invariant": {"robust_net_learns_top_left": False, "robust_net_keeps_bottom_right": False},
    }.get(kind, {})


# --- measuring ---------------------------------------------------------------------------------------------


def confusion(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """``classes x classes`` counts: row = true digit, column = predicted digit."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    valid = (predictions >= 0) & (predictions < classes)
    np.add.at(matrix, (labels[valid], predictions[valid]), 1)
    return matrix


SLOTS = {"cpu": 2}  # trainings at once per device type (others: 1): a network pair, or two re-measurements
TRAINED_BY = {  # the checks that train each network: prefetch() starts a network's training when one is selected
    QUADRANT_NET: frozenset({"robustness/quadrant_net_learns_top_left", "robustness/quadrant_net_fails_bottom_right"}),
    ROBUST_NET: frozenset({"robustness/robust_net_learns_top_left", "robustness/robust_net_keeps_bottom_right"}),
}


def will_train(grading: GradingSession) -> bool:
    """Whether this grading will probably train (asked at its start, grader/plugin.py): QuadrantNet is exported
    by every whole grading, so its stored export marks files graded before, whose accuracies are stored too."""
    return not networks.stored(grading, QUADRANT_NET)


def prefetch(grading: GradingSession) -> None:
    """Start training each network whose checks are selected, before the first check (the plugin calls it):
    the networks train while the other groups are graded, and this group is graded last
    (the manifest's ``graded_last``).

    Each network is exported under a check's time budget of its own, as it was when its first check asked
    for it. A submission's fault met here is kept (:meth:`GradingSession.memo`) and reported by the checks it
    concerns; anything else is met again by those checks. A network that is not the specified QuadrantNet is
    not trained (its checks say why). Nothing here fails a check.
    """
    selected = grading.selected or frozenset()
    try:
        for target in (ROBUST_NET, QUADRANT_NET):  # the longer training first
            if not selected & TRAINED_BY[target]:
                continue
            grading.begin_check()
            try:
                if target == QUADRANT_NET:
                    _require_spec_quadrant_net(grading)
                _begin(grading, prepare_pools(grading), target, 0)
            except (CheckFailure, SubmissionFault, GraderFault):
                continue  # raised again, with its message, by the checks that need the same network
    finally:
        grading.check_deadline = None  # until the first check begins its own


def _side_by_side(grading: GradingSession) -> trainer.SideBySide:
    def make() -> trainer.SideBySide:
        pool = trainer.SideBySide(SLOTS.get(torch.device(grading.device).type, 1))
        grading.on_close(pool.close)
        return pool

    return grading.memo(("side by side",), make)


@dataclass(frozen=True)
class Digits:
    """What a training learns from and is tested on (uint8 digits, pasted into canvases batch by batch);
    read, never written, by the training threads."""

    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    truth: np.ndarray  # the test digits' labels


def _digits(grading: GradingSession, pools: PreparedPools, seed: int) -> Digits:
    """The digits of the measurement with ``seed``, made once per grading (the two networks share them)."""

    def make() -> Digits:
        found = testdigits.measured(pools.pools, seed)
        return Digits(
            torch.from_numpy(found.train_digits),
            torch.from_numpy(found.train_labels),
            torch.from_numpy(found.test_digits),
            found.test_labels,
        )

    return grading.memo(("measurement digits", seed), make)


_ENVIRONMENT = ("CUDA", "cuDNN", "CUBLAS", "NVIDIA", "out of memory", "device-side")


def _train_and_test(
    net: fastgraph.FastGraphNet,
    name: str,
    digits: Digits,
    budget: Budget,
    device: str,
    *,
    limit: float,
    stop: threading.Event,
) -> dict:
    """Train ``net`` (a seeded training form) for at most ``limit`` seconds and test it: the accuracies in each
    corner, how often its answers agree, the bottom-right confusion matrix and the seconds it took.

    Runs on a training thread: the judge's own tensors only, no worker request, no console (see :func:`_begin`).
    """
    started = time.perf_counter()
    try:
        deadline = time.monotonic() + limit
        net.deadline = deadline  # every forward pass, the predictions' too, stops at the limit
        prepare = partial(digits_to_canvas, corner="top_left")
        train_classifier(
            net, digits.train, digits.train_labels, budget, device, deadline=deadline, stop=stop, prepare=prepare
        )
        predictions = [
            predict(net, digits.test, device, budget.batch_size, prepare=partial(digits_to_canvas, corner=corner))
            for corner in CORNERS
        ]
    except (TrainingTooLong, netgraph.TooSlow) as exc:
        raise SubmissionFault(
            f"{name} trains or predicts too slowly: the grader stopped it after {limit:.0f} s ({exc}); a network of "
            "this course trains in a few seconds"
        ) from None
    except torch.cuda.OutOfMemoryError as exc:  # the grader's device, not the student's fault
        raise GraderFault(f"the grader's GPU ran out of memory training {name}: {exc}") from None
    except (RuntimeError, FloatingPointError, ValueError) as exc:
        if any(word in str(exc) for word in _ENVIRONMENT):  # the grader's device failed, not the network
            raise GraderFault(
                f"the grader's device failed while training {name}: {type(exc).__name__}: {exc}"
            ) from None
        raise SubmissionFault(f"{name} failed while the grader trained it: {type(exc).__name__}: {exc}") from None
    truth = digits.truth
    return {
        "scores": [float((p == truth).mean()) for p in predictions]
        + [float((predictions[0] == predictions[1]).mean())],
        "confusion_bottom_right": confusion(truth, predictions[1]).tolist(),
        "seconds": time.perf_counter() - started,
    }


def _begin(grading: GradingSession, pools: PreparedPools, target: str, index: int) -> Callable[[], dict]:
    """Start the ``index``-th measurement of ``target`` (index 0: the grading seed) unless the cache holds it;
    returns how to wait for it. Once per grading; runs on the main thread (worker requests, console, cache)."""
    seed = measurement_seed(grading, index)
    name = target.split(".")[1]

    def begin() -> Callable[[], dict]:
        budget = budget_of(Robustness.of(grading), seed)
        request = {
            "target": target,
            "budget": asdict(budget),
            "device": grading.device,
            "digits": pools.digest,
            "sample": testdigits.identity(seed),
            "observed": "scores+agreement+confusion",
            "trainer": TRAINER_SOURCES,
        }
        grading.require(target)
        graph = network(grading, target)  # the judge trains this graph: the same graph, the same result
        cached = grading.cache.get(request, content=graph.digest)
        if cached is not None:
            grading.progress(f"{name}: accuracies from an earlier grading of these files (seed {seed})")
            return lambda: cached
        net = training_form(graph, seed, initialise=True)  # a copy, from the judge's own initial weights
        # the training's own limit, cut to what the grading's budget has left
        limit, _ = grading.deadline(grading.options.train_timeout, f"training {name}", per_check=False)
        pool = _side_by_side(grading)
        digits = _digits(grading, pools, seed)
        grading.progress(f"training {name} on {budget.images:,} top-left digits (seed {seed}) ...")
        future = pool.submit(
            partial(_train_and_test, net, name, digits, budget, grading.device, limit=limit, stop=pool.stopping)
        )

        def wait() -> dict:
            observed = pool.result(future)
            grading.progress(f"trained {name} in {observed.pop('seconds'):.1f} s (seed {seed})")
            grading.cache.put(request, observed, content=graph.digest)
            return observed

        return wait

    return grading.memo(("measuring", target, seed), begin)


def run(grading: GradingSession, pools: PreparedPools, target: str, index: int) -> dict:
    """The ``index``-th measurement of ``target`` (index 0: the grading seed, usually started by :func:`prefetch`),
    once per grading, cached."""
    wait = _begin(grading, pools, target, index)
    return grading.memo(("accuracies", target, measurement_seed(grading, index)), wait)


def measurements(grading: GradingSession, pools: PreparedPools, target: str, n: int = 1) -> list[Run]:
    """The first ``n`` measurements; the first also kept as evidence for the feedback."""
    for i in range(n):  # started together: re-measurements train side by side
        _begin(grading, pools, target, i)
    runs = [run(grading, pools, target, i) for i in range(n)]
    name = target.split(".")[1]
    first = runs[0]
    grading.evidence.add(
        f"robustness:{name}",
        ILLUSTRATES[name],
        top_left=first["scores"][0],
        bottom_right=first["scores"][1],
        confusion_bottom_right=np.asarray(first["confusion_bottom_right"], dtype=np.int64),
        learns=Robustness.of(grading).learns_top_left,  # this course's bar, for the page's sentence
        item=grading.options.dataset.item,  # what the page calls one image ("digit")
    )
    return [Run(*r["scores"]) for r in runs]


def judge(grading: GradingSession, pools: PreparedPools, target: str, check_name: str) -> Run:
    """Apply the check's rules; raise :class:`CheckFailure` with the deciding values, or return the first run."""
    name = target.split(".")[1]
    notes = []
    settings = Robustness.of(grading)
    for condition in rules(settings)[check_name]:
        holds, value, borderline = settle(condition, lambda n: measurements(grading, pools, target, n), settings)
        if borderline:
            seeds = ", ".join(str(measurement_seed(grading, i)) for i in range(1 + settings.extra_seeds))
            first = condition.metric(measurements(grading, pools, target)[0])
            why = "did not meet" if not condition.holds(first) else f"was within {settings.margin:g} of"
            notes.append(
                f"{condition.what} {why} {condition.threshold:g} at the grading seed ({first:.3f}), so {name} was "
                f"trained with seeds {seeds}: median {value:.3f}"
            )
        if not holds:
            first = measurements(grading, pools, target)[0]
            bound = "at least" if condition.above else "at most"
            note = f" ({'; '.join(notes)})" if notes else ""
            raise CheckFailure(
                f"{name} {_setup(pools, grading)}: top-left accuracy {first.top_left:.3f}, bottom-right "
                f"{first.bottom_right:.3f}, the same answer in both corners for {first.agreement:.1%} of the test "
                f"digits; {condition.what} is {value:.3f}, it must be {bound} {condition.threshold:g}{note}."
            )
    return measurements(grading, pools, target)[0]


def _setup(pools: PreparedPools, grading: GradingSession) -> str:
    budget = budget_of(Robustness.of(grading))
    return (
        f"after {budget.images:,} top-left training images (Adam, lr {budget.lr:g}, batch {budget.batch_size}, "
        f"from the grader's own initial weights, seed {grading.options.seed})"
    )


def _require_spec_quadrant_net(grading: GradingSession) -> None:
    """The QuadrantNet robustness points go to the specified network only (its layer table and forward pass)."""
    from course.quadrant import check_quadrant

    try:
        check_quadrant.compare_layers(grading, 8, with_params=True)
        check_quadrant.compare_forward_ops(grading)
    except CheckFailure:
        raise CheckFailure(
            "QuadrantNet is not the specified network (see quadrant/layer_shapes, quadrant/parameter_counts and "
            "quadrant/forward_ops): these points are for the specified flatten network's behaviour only."
        ) from None


@check(
    "robustness/robust_net_other_sizes",
    3,
    hint="no layer may depend on the input size: no hard-coded flatten",
    evidence="judge",
)
def test_robust_net_other_sizes(grading: GradingSession) -> None:
    net = network(grading, ROBUST_NET)
    for size in (56, *OTHER_SIZES):
        x = probe(size)
        what = f"RobustQuadrantNet()(x) for x of shape {' x '.join(map(str, x.shape))}"
        seconds, _ = grading.deadline(grading.options.timeout, what)
        try:
            with torch.no_grad(), net.limited(seconds):
                out = net.eval()(x)
        except netgraph.GraphShapeError as exc:  # the judge's own words: why it cannot run the network at this size
            raise CheckFailure(f"{what} failed: {str(exc)[:400]}") from None
        except Exception as exc:  # noqa: BLE001 - the network's own failure at this size
            raise CheckFailure(f"{what} failed: {type(exc).__name__}: {str(exc)[:300]}") from None
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x), 10):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise CheckFailure(f"{what} returned {shape}, expected a {len(x)} x 10 tensor of logits.")


@check(
    "robustness/quadrant_net_learns_top_left",
    3,
    hint="the specified QuadrantNet learns top-left digits well within the budget: check its forward pass",
    evidence="judge",
)
def test_quadrant_net_learns(grading: GradingSession, pools: PreparedPools) -> None:
    _require_spec_quadrant_net(grading)
    judge(grading, pools, QUADRANT_NET, "quadrant_net_learns_top_left")


@check(
    "robustness/quadrant_net_fails_bottom_right",
    2,
    hint="keep QuadrantNet exactly as specified: its flatten head is what cannot generalise",
    evidence="judge",
)
def test_quadrant_net_fails_bottom_right(grading: GradingSession, pools: PreparedPools) -> None:
    _require_spec_quadrant_net(grading)
    judge(grading, pools, QUADRANT_NET, "quadrant_net_fails_bottom_right")


@check(
    "robustness/robust_net_learns_top_left",
    4,
    hint="a network that cannot learn top-left digits in the budget: max pooling learns faster than averaging "
    "over a mostly black canvas",
    evidence="judge",
)
def test_robust_net_learns(grading: GradingSession, pools: PreparedPools) -> None:
    judge(grading, pools, ROBUST_NET, "robust_net_learns_top_left")


@check(
    "robustness/robust_net_keeps_bottom_right",
    6,
    hint="what does a flatten layer remember that a global pooling layer forgets, and what does a valid "
    "convolution see at the canvas edge?",
    evidence="judge",
)
def test_robust_net_generalises(grading: GradingSession, pools: PreparedPools) -> None:
    judge(grading, pools, ROBUST_NET, "robust_net_keeps_bottom_right")
