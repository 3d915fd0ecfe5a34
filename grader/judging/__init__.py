"""Judging one submission: the items, their hidden inputs, symbolic and numeric verdicts.

Trusted side only; nothing here ships to students or runs beside student code.

==================== =========================================================================
module               what it does
==================== =========================================================================
``grading``          grades one submission: plan the calls, run them in the sandbox, judge
``items``            how each rubric item is judged (the calls it needs, the points it earns)
``symbolic``         symbolic answers: symbol set, random float points, exact rational points
``inputs``           hidden inputs drawn per submission, and the expected values there
``misconceptions``   the catalogue of named mistakes and their templates
==================== =========================================================================
"""
