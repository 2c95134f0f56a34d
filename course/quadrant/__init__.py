"""The course's ``quadrant``: its contract, checks and what they need."""
