"""The metrics the evaluate stage reports (evaluate.py computes them): which way is better for each, and
its scale. The quality bounds, the tests, the gate, the pull-request report, adopt and monitor read them
here. Standard library only: the gate and the report need no scikit-learn."""

METRIC_GOALS = {
    "accuracy": "higher",
    "precision": "higher",
    "recall": "higher",
    "f1": "higher",
    "roc_auc": "higher",
    "rmse": "lower",
    "mae": "lower",
    "r2": "higher",
}
# Scores of at most 1 (r2 may go below 0); the others are errors in the target's unit.
UNIT_METRICS = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "r2"})
# The metrics `adopt` bounds in params.yaml for each task (quality.minimum / quality.maximum).
BOUNDED = {"classification": ("accuracy", "f1", "roc_auc"), "regression": ("r2", "rmse", "mae")}
# Every metric evaluate.py reports for each task, in its order (the search optimises one of them).
TASK_METRICS = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}
