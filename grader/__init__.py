"""Autograder for the homework "Adam vs. SGD with momentum".

``python -m grader grade SUBMISSIONS... --out DIR`` grades submissions in a sandbox and writes
reports, a class CSV, LMS import files and a summary. See the README.
"""

__version__ = "1.0.0"
