"""The judging engine shared by the grader and the student's public checks.

Everything here depends only on the standard library, numpy, sympy and nbformat (for the
notebook reader), and imports its siblings relatively, so that ``grader release`` copies this
package into the student bundle unchanged: it is exactly what ships to students, and
everything else under ``grader/`` is secret by structure. It holds no expected value and no reference formula: only the wire
format, the expression whitelist and evaluators, and the comparison rules.
"""
