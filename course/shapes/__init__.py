"""The course's ``shapes``: its contract, checks and what they need."""
