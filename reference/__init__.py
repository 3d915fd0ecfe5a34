"""The instructor's reference solution. Never shipped to students, never imported by a worker."""
