from pathlib import Path

from {{ cookiecutter.package_name }}.core.params import load_params

PARAMS_FILE = Path(__file__).resolve().parents[2] / "params.yaml"


def pytest_generate_tests(metafunc):
    """One test per quality bound in params.yaml, named after its metric."""
    if "bound" in metafunc.fixturenames:
        quality = load_params(PARAMS_FILE).quality
        bounds = [(name, "minimum", limit) for name, limit in quality.minimum.items()]
        bounds += [(name, "maximum", limit) for name, limit in quality.maximum.items()]
        metafunc.parametrize("bound", bounds, ids=[f"{kind}-{name}" for name, kind, _ in bounds])
