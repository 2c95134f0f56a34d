"""The grader's trusted implementations of the exercise contract (``grader.contract``).

Written independently of ``solutions/`` so that the two cross-check each other in the tests.
"""
