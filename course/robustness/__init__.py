"""The course's ``robustness``: its contract, checks and what they need."""
