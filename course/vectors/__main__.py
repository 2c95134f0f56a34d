"""``python -m course.vectors [DIR]``: regenerate the stored test vectors from ``reference/``."""

from course.vectors.generate import main

main()
