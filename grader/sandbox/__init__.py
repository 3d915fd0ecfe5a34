"""Everything that runs beside student code, or manages the processes that run it.

Trust boundary: the modules here are the only ones that start, talk to or clean up after
student code.

========================= ==================================================================
module                    what it does
========================= ==================================================================
``manager``               the trusted side: starts the zygote once per batch, spawns workers
``client``                the trusted side's worker client: runs a submission's calls and maps
                          every outcome (answer, exception, timeout, crash) to a typed value
``zygote``                the warm process that forks one isolated supervisor + worker per spawn
``worker``                runs *inside* the sandbox, next to student code; holds no expected value
``protocol``              the framed, size- and time-bounded JSON channel both sides use
``isolation``             Linux isolation primitives (namespaces, mounts, Landlock, limits)
========================= ==================================================================
"""
