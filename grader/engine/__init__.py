"""The judging engine shared by the grader and the student's public checks.

Everything here depends only on the standard library, numpy and sympy, and imports its
siblings relatively, so that ``grader release`` can copy this package into the student
bundle unchanged. It holds no expected value and no reference formula: only the wire
format, the expression whitelist and evaluators, and the comparison rules.
"""
