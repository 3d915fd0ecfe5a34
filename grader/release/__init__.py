"""What the instructor hands out: the student bundle and the Gradescope autograder zip.

================ ================================================================================
module           what it does
================ ================================================================================
``bundle``       ``grader release``: the student bundle, built in memory and checked for leaks
``public``       the public checks' data (values of the reference at public points only)
``notebook``     the student notebook, built from the stub file
``gradescope``   ``grader gradescope-bundle``: the autograder zip and its ``run_autograder`` entry
================ ================================================================================
"""
