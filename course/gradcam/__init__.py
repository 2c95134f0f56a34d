"""The course's ``gradcam``: its contract, checks and what they need."""
