"""The study built on redraft: small models trained here, and the experiment behind the page.

``redraft.lab`` is a user of the framework, not part of it: it imports only the public names
of :mod:`redraft.agent`, :mod:`redraft.tools` and :mod:`redraft.evals`, and nothing there
imports it (``tests/test_imports.py`` checks both). Its commands, ``redraft train`` and
``redraft findings``, reach the command line as plug-ins do (entry point group
``redraft.commands``).

- :mod:`redraft.lab.testbed`: ``redraft train``: a small transformer trained on a task's own
  episodes in a data regime (``expert``, ``retry``, ``recovery``, ``scratchpad``).
- :mod:`redraft.lab.findings`: ``redraft findings``: the decisive experiment's design, runs,
  analysis and page (``docs/findings.md``).
- :mod:`redraft.lab.stats`: seed-level statistics (a trained model is the unit).
- :mod:`redraft.lab.calibrate`: the task-difficulty calibration behind the design's settings.
"""
