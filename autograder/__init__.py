"""The course's grading pipeline: release exercises and autograde a class with nbgrader.

Kept light to import: hidden tests import `autograder.hidden_checks` inside
every grading kernel.
"""
