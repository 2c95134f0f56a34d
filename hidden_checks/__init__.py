"""The hidden tier: checks that run only where the instructor's grader is installed (never in the student bundle).

Each ``hidden_*.py`` asks the same functions as the public checks on inputs students never see (other
widths, odd sizes, other batch and data sizes, other early-stopping scripts), so a submission cannot be
tuned to the public checks or their stored vectors. Expected values are computed here, at grading time,
from ``reference/`` (``course.vectors.generate``); nothing hidden is stored. Hidden checks report their
name and result only (``grader/report/``). Each module's ``expected_values()`` lists what its checks
compare with, so ``tests/test_packaging.py`` can prove that none of it reaches the student bundle.

Like ``reference/``, this package is covered by an empty folder inside the worker's sandbox.
"""
