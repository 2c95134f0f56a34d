"""The contract of the fixture module ``basics``: small functions the engine's own tests call in the worker."""

from grader.contract import Exercise, Module

MODULE = Module(
    name="basics",
    doc="Small functions the engine's tests call (their submissions misbehave on purpose).",
    imports=(),
    exercises=(
        Exercise("basics", "double(x: int) -> int", "Return ``2 * x``."),
        Exercise("basics", "pid() -> int", "Return the id of the process that runs it."),
        Exercise("basics", "spawn() -> int", "Start whatever the test needs and return 1."),
    ),
)
