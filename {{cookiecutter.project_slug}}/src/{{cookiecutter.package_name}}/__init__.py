"""The model package, grouped by the loop it runs; ``cli`` defines every command on top.

- ``pipeline``: one module per DVC stage (data, train, export, evaluate), and the commands that feed the data
  stage (``adopt``, ``add-labelled``).
- ``review``: what a pull request is judged by (the gate, the report), the provenance check on merge, the model
  card of a release.
- ``serving``: the HTTP service and its settings, batch prediction, the benchmark, the smoke test.
- ``monitoring``: production rows against what the model learned.
- ``core``: what all of them share (the ``params.yaml`` schema, paths, errors, artifacts, the data contract).
"""

__version__ = "0.1.0"
