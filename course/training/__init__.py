"""The course's ``training``: its contract, checks and what they need."""
