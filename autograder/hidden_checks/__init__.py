"""Checks that only hidden tests use: imported inside grading kernels, never released.

One module per assignment. Each helper adds named, weighted checks to a
`rnncourse.checks.Checks` list, comparing the student's function with an
independent oracle (PyTorch's own modules and functions, or autograd).
"""
