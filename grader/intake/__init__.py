"""Finding and reading submissions: files, folders, notebooks, zip archives, LMS names.

Nothing here runs student code, and nothing is ever written next to a submission.
"""
