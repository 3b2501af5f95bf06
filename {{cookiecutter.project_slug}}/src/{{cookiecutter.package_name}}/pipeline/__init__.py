"""The pipeline: one module per DVC stage (data, train, export, evaluate), and the commands that feed the data stage."""
