"""The shared core: the settings (``params.yaml``), where each file is, errors, model artifacts, the data contract."""
