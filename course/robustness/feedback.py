"""The robustness group's panel on the feedback page: each network's accuracy in both corners, and where it goes
wrong on bottom-right images (recorded by the robustness checks)."""

from __future__ import annotations

from typing import Any

from grader.report.html import accuracy_table, confusion_table


def panels(shown: dict[str, Any]) -> list[str]:
    """HTML blocks from the public checks' records (``shown``: record name -> record with ``arrays``)."""
    nets = {name.split(":", 1)[1]: r.arrays for name, r in shown.items() if name.startswith("robustness:")}
    if not nets:
        return []
    accuracies = accuracy_table({n: (float(a["top_left"]), float(a["bottom_right"])) for n, a in nets.items()})
    first = next(iter(nets.values()))
    learns = float(first["learns"])  # the course's bar, the same for both networks
    item = str(first["item"]) if "item" in first else "digit"  # records stored before the data set was named
    matrices = "".join(
        confusion_table(f"{n}: bottom-right {item}s", a["confusion_bottom_right"], item) for n, a in nets.items()
    )
    return [
        f"<p>Your networks, trained by the grader on top-left {item}s only, tested on both corners "
        f"(a network must reach {learns:.2f} top-left; its checks above say whether it did).</p>" + accuracies,
        f"<p>Where they go wrong on bottom-right {item}s (rows: the true {item}, columns: the prediction):</p>"
        f"<div class='matrices'>{matrices}</div>",
    ]
