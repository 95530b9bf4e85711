"""The Ray adapter: the only package that imports ray. ``core`` runs the same stages in-process.

- ``distributed.data``: preparation on Ray Data and the prepared-data cache trials load.
- ``distributed.train``: Ray Train (TorchTrainer, DDP) around ``core.learn.train_loop.train``.
- ``distributed.tune``: the search (Tune + OptunaSearch + ASHA) and its resume.
- ``distributed.settings`` (what a search is), ``cluster`` (Ray start-up, resources), ``storage``
  (local folder or bucket), ``results`` (progress and table), ``export`` (best trial -> model folder).
- ``distributed.debug``: the same search without Ray (imports no Ray).

Submodules are imported explicitly (``from distributed.tune import run_search``) so that importing
one does not start importing all of Ray.
"""
