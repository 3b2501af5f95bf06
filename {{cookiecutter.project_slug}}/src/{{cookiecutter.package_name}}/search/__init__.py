"""The hyperparameter search: configurations of params.yaml's model section tried by Optuna, scored by
cross-validation on the training split, each recorded as a DVC experiment; the leaderboard and the
winner written back into params.yaml."""
