"""The late policy: off by default; when set, a late submission loses a fraction of its score.

``penalty`` is taken off any late submission (Canvas marks lateness with ``_LATE`` only, so this is all a
Canvas export supports); ``per_day`` is taken off for every started day after the due date, where the
submission time and the due date are known (Gradescope's ``submission_metadata.json``, or ``--due`` with
a Gradescope export). ``max_penalty`` caps the total. Points per check are never changed: the deduction
is applied to the total and stated in the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LatePolicy:
    penalty: float = 0.0
    per_day: float = 0.0
    max_penalty: float = 1.0

    def __post_init__(self) -> None:
        for name in ("penalty", "per_day", "max_penalty"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"late policy: {name} must be a fraction between 0 and 1, not {value}")

    @property
    def active(self) -> bool:
        return self.penalty > 0 or self.per_day > 0

    def fraction(self, late: bool | None, days_late: float | None = None) -> float:
        """The fraction of the score to take off (0 when on time, unknown, or the policy is off)."""
        if not late or not self.active:
            return 0.0
        days = math.ceil(days_late) if days_late and days_late > 0 else 0
        return min(self.max_penalty, self.penalty + self.per_day * days)


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time (Gradescope writes ``2018-07-01T14:22:32.365935-07:00``), or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def lateness(submitted: str | None, due: str | None) -> tuple[bool | None, float | None]:
    """(late, days late) from the submission time and the due date; (None, None) when either is unknown."""
    when, deadline = parse_time(submitted), parse_time(due)
    if when is None or deadline is None:
        return None, None
    if (when.tzinfo is None) != (deadline.tzinfo is None):  # compare like with like
        when, deadline = when.replace(tzinfo=None), deadline.replace(tzinfo=None)
    days = (when - deadline).total_seconds() / 86400
    return days > 0, max(days, 0.0)
