"""Where the project keeps its files, relative to its root: each path written down once.

``dvc.yaml`` names the same files as the stages' dependencies and outputs, and the workflows
read some of them; ``tests/unit/test_paths.py`` keeps dvc.yaml and this module alike. Standard
library only: every command imports it, ``--help`` included.
"""

from pathlib import Path

PARAMS_PATH = Path("params.yaml")  # the pipeline's settings (see params.py)
DVC_LOCK_PATH = Path("dvc.lock")  # the pipeline's last run: the hashes of its inputs and outputs
CONTRACT_PATH = Path("data-contract.yaml")  # the data contract: the raw table's columns and rules
MODEL_CARD_PATH = Path("MODEL_CARD.md")  # the card's hand-written parts

# Data: the raw table, rows with known outcomes from production, and the data stage's split.
RAW_DIR = Path("data/raw")
RAW_TABLE_PATH = RAW_DIR / "data.csv"
LABELLED_DIR = Path("data/labelled")  # production rows with known outcomes, added as new files (labelled.py)
PROCESSED_DIR = Path("data/processed")
TRAIN_FILE = "train.parquet"  # in PROCESSED_DIR (or another folder given to the data functions)
TEST_FILE = "test.parquet"
SCHEMA_FILE = "schema.json"

# The model: the fitted pipeline and its record (train, evaluate), the served form (export).
MODEL_PATH = Path("models/model.skops")
METADATA_PATH = Path("models/metadata.json")
ONNX_DIR = Path("models/onnx")
ONNX_PATH = ONNX_DIR / "model.onnx"
SERVING_PATH = Path("models/serving.json")

# Reports: the evaluate stage's metrics and plots (kept in Git), and what the review commands write.
REPORTS_DIR = Path("reports")
METRICS_PATH = REPORTS_DIR / "metrics.json"
PER_CLASS_PATH = REPORTS_DIR / "per_class.json"
PLOTS_DIR = REPORTS_DIR / "plots"  # the plots' data, drawn by `dvc plots`
FIGURES_DIR = REPORTS_DIR / "figures"  # the same plots as PNG
PR_REPORT_PATH = REPORTS_DIR / "pr-report.md"
MODEL_CARD_REPORT_PATH = REPORTS_DIR / "model-card.md"
REVIEW_PATH = REPORTS_DIR / "model-review.json"
SMOKE_CASES_PATH = REPORTS_DIR / "smoke-cases.json"
MONITOR_DIR = REPORTS_DIR / "monitor"
# The search: one trial's record (a metrics file of dvc.yaml, kept in each experiment; in Git, the record
# of the trial `leaderboard --apply` took), and the leaderboard (Markdown and chart, not committed).
SEARCH_RECORD_PATH = REPORTS_DIR / "search.json"
LEADERBOARD_DIR = REPORTS_DIR / "leaderboard"
