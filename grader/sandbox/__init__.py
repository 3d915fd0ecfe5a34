"""Everything that runs beside student code, or manages the processes that run it.

Trust boundary: the modules here are the only ones that start, talk to or clean up after
student code.

========================= ==================================================================
module                    what it does
========================= ==================================================================
``manager``               the trusted side: starts the zygote once per batch, spawns workers
``client``                the trusted side's worker client (``WorkerSession``: load, call) and
                          the one mapping of every outcome (answer, exception, timeout, crash)
                          to a typed value; time limits count the worker's own time
``config``                the zygote's frozen configuration (paths a worker may read, limits)
``cgroups``               one cgroup per worker slot (CPU share, memory, processes), root only
``zygote``                the warm process that forks one isolated supervisor + worker per spawn
``worker``                runs *inside* the sandbox, next to student code; holds no expected value
``protocol``              the framed, size- and time-bounded JSON channel both sides use
``isolation``             Linux isolation primitives (namespaces, mounts, Landlock, seccomp,
                          keyrings, limits)
========================= ==================================================================
"""
