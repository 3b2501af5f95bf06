"""Errors that the command line reports as one clear line instead of a traceback."""


def rows(count: int) -> str:
    """'1 row', '3 rows': messages count the bad rows."""
    return f"{count} row" if count == 1 else f"{count} rows"


class ProjectError(Exception):
    """A problem the user can fix: the message names the value and how to fix it."""


class ConfigError(ProjectError):
    """params.yaml is missing, malformed or holds a value the pipeline cannot use."""


class DataError(ProjectError):
    """The input data does not match what the pipeline expects."""


class ArtifactError(ProjectError):
    """A model artifact is missing, tampered with, or holds types that are not trusted."""


class MissingOutputError(ProjectError):
    """A pipeline output is absent: the pipeline has not run (or its outputs were not pulled)."""
