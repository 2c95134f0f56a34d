"""Grading a whole class: discover students, grade each in its own judge process (locally or on Dask),
publish every student's reports atomically, and rebuild the class summary. See ``cnn-grader batch``."""
