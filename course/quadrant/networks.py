"""Student networks as the judge holds them: exported by the worker, rebuilt and judged here.

:func:`network` asks the worker to build a contract class (seeded with the grading seed) and export it
(:func:`grader.netgraph.export_network`), then rebuilds it with :class:`grader.netgraph.GraphNet`. Everything
the quadrant and robustness checks measure comes from the rebuilt network, run by the judge; the worker's
only say is which network it hands over. A network that cannot be exported or rebuilt is one problem,
reported once, for every check that needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from grader import netexport, netgraph, netops
from grader.judge.faults import SubmissionFault
from grader.judge.obscache import content_digest, sources_digest
from grader.judge.session import GradingSession
from grader.netexport import NetworkRefused
from grader.netgraph import GraphNet

QUADRANT_NET, ROBUST_NET = "quadrant.QuadrantNet", "quadrant.RobustQuadrantNet"  # the contract's two networks
EXAMPLE = (2, 1, 56, 56)  # the batch the worker traces with (any batch size and, where asked, H and W follow)
OTHER_SIZES = (84, 70)  # RobustQuadrantNet must take other square sizes (robustness/robust_net_other_sizes)
CONTRACT_NOTE = (
    "networks must be plain tensor code that torch.export can trace: layers and torch operations, no Python "
    "side effects, no data-dependent control flow (grader/contract.py)"
)


EXPORT_REPLY = ("network", "refused")  # what the judge reads of an export reply (and stores)
TRACING_ALLOWANCE = 20.0  # s on top of --timeout: torch.export's own start (about 2 s on a quiet 2-core machine)


class NetworkUnavailable(SubmissionFault):
    """The student's network could not be exported or rebuilt."""


def describe(target: str, init: dict[str, Any] | None) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in (init or {}).items())
    return f"{target.split('.')[1]}({args})"


def network(grading: GradingSession, target: str, init: dict[str, Any] | None = None) -> GraphNet:
    """The rebuilt network of contract class ``target`` built with ``init`` (once per grading; eval mode).

    Any batch size works; for ``RobustQuadrantNet`` (which must take other square sizes) H and W are free.
    """
    init = dict(init or {})
    what = describe(target, init)

    def build() -> GraphNet:
        request = _export_request(grading, target, init)
        key = _export_key(request)
        # torch.export costs the worker about 0.2 s a mode: a byte-identical submission reuses its export
        reply = grading.cache.get_with_arrays(key)
        if reply is None:
            reply = grading.ask(
                "export",
                f"building and exporting {what}",
                needs=(target,),
                timeout=grading.options.timeout + TRACING_ALLOWANCE,
                **request,
            )
            grading.cache.put_with_arrays(key, {k: reply.get(k) for k in EXPORT_REPLY})
        why = reply.get("refused")
        if why is None:
            seconds, _ = grading.deadline(grading.options.timeout, f"checking {what}")
            try:
                exported = reply.get("network") or {}
                net = GraphNet.from_export(exported, seconds=seconds).eval()
                net.digest = content_digest(exported)  # what the judge's observations of it are keyed by
                return net
            except NetworkRefused as exc:
                why = str(exc)
            except netgraph.TooSlow:
                why = f"checking its logits against the module's took more than {seconds:.0f} s"
        raise NetworkUnavailable(f"{what} cannot be judged: {why}. The contract: {CONTRACT_NOTE}.", problem=what)

    return grading.memo(_key(target, init), build)


def stored(grading: GradingSession, target: str, init: dict[str, Any] | None = None) -> bool:
    """Whether the cache holds this submission's export of ``target`` (built with ``init``): a grading of these
    exact files ran before, so whatever else it computed is probably stored too. Asks the worker nothing."""
    return grading.cache.holds(_export_key(_export_request(grading, target, dict(init or {}))))


def shapes(target: str, init: dict[str, Any], batch_size: int) -> list[tuple[int, int]]:
    """The (batch, size) pairs the judge runs a network at: tables and logits, other sizes, training batches
    (prediction uses the training's batch size too, grader/trainer.py)."""
    found = [(EXAMPLE[0], EXAMPLE[-1])]
    if target == ROBUST_NET:
        found += [(EXAMPLE[0], side) for side in OTHER_SIZES]
    if not init:  # the network the robustness checks train
        found.append((batch_size, EXAMPLE[-1]))
    return list(dict.fromkeys(found))


def _export_request(grading: GradingSession, target: str, init: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": target,
        "init": init,
        "seed": grading.options.seed,
        "input_shape": list(EXAMPLE),
        "dynamic_size": target == ROBUST_NET,
        "shapes": [list(s) for s in shapes(target, init, grading.options.settings["robustness"]["batch_size"])],
    }


def _export_key(request: dict[str, Any]) -> dict[str, Any]:
    return {"op": "export", "exporter": _exporter_digest(), **request}


def _key(target: str, init: dict[str, Any]) -> tuple:
    return ("network", target, repr(sorted(init.items())))


def _exporter_digest() -> str:
    """The export's format follows from these sources: a stored export is only reused with the same ones."""
    here = Path(netgraph.__file__).parent
    files = (Path(netexport.__file__), Path(netops.__file__), Path(netgraph.__file__), here / "worker" / "ops.py")
    files += (Path(__file__).parent / "ops.py",) if (Path(__file__).parent / "ops.py").is_file() else ()
    return sources_digest(*files)  # read, not imported: the worker's


def example_batch(shape: tuple[int, ...] = EXAMPLE) -> torch.Tensor:
    """The seeded input the judge runs networks on for their layer tables and logits."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(1))
