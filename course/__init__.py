"""The course: one folder per group of checks (and student module), read by the engine through ``course.toml``.

See grader/coursepkg.py for the manifest and docs/course.md for adding an exercise or switching the data set.
"""
