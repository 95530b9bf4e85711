"""The Ray adapter: the only package that imports ray. ``core`` runs the same stages in-process.

- ``distributed.data``: preparation on Ray Data and the prepared-data cache trials load.
- ``distributed.train``: Ray Train (TorchTrainer, DDP) around ``core.learn.train_loop.train``.
- ``distributed.tune``: the search (Tune + OptunaSearch + ASHA), resume, results, best-trial export.

Submodules are imported explicitly (``from distributed.tune import run_search``) so that importing
one does not start importing all of Ray.
"""
