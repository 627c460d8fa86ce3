"""Background jobs: a queue in the metadata database, claimed by exactly one worker.

The embedded default runs a worker thread inside ``allmende serve``; production runs
``allmende worker`` processes beside stateless web processes. The CLI runs the same job
in-process and waits for it.
"""
