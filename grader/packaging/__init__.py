"""Course packaging (instructors only; the student bundle leaves this package out).

- :mod:`grader.packaging.release`: ``cnn-grader release OUT``, what students receive;
- :mod:`grader.packaging.gradescope`: ``cnn-grader gradescope ZIP``, a Gradescope autograder with every tier;
- :mod:`grader.packaging.autograder`: what that autograder's ``run_autograder`` runs for each submission;
- :mod:`grader.packaging.sources`: the files, requirements and templates both packages are made of.
"""
