"""``python -m grader.vectors [DIR]``: regenerate the stored test vectors from ``reference/``."""

from grader.vectors.generate import main

main()
