"""Grading a batch on a Dask cluster (``grade --dask ADDRESS``, the optional extra ``cluster``).

The client (:mod:`grader.cluster.client`, the instructor's machine) discovers the
submissions, sends chunks of them to the cluster as plain data, checks every report that
comes back against its schema and the rubric, and writes every file itself, so the output
folder is the same as one machine's. Each Dask worker process (:mod:`grader.cluster.worker`)
holds one warm sandbox of its own host, started once by a worker plugin and closed with the
worker, and grades its chunks with :func:`grader.chunk.grade_chunk`.

Nothing here is imported unless ``--dask`` is given: dask and distributed are not needed to
grade on one machine.
"""
