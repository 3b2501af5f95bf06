"""Every workflow, the generated project's and the template's own, passes zizmor and actionlint."""

from __future__ import annotations

import re
from pathlib import Path

from bakery import CHOICES, TEMPLATE, TOOLS_BIN, run

# The generated project's .github in the template: its workflows, their variants and its actions.
PROJECT_GITHUB = TEMPLATE / "{{cookiecutter.project_slug}}" / ".github"
# A {{ that is not GitHub's ${{ and not an answer (optionally lowercased) or a derived value.
TEMPLATE_JINJA = re.compile(r"(?<!\$)\{\{(?! (cookiecutter\.\w+( \| lower)?|dvc_remote_id_token\(\)) \}\})")
ACTIONLINT = [str(TOOLS_BIN / "actionlint"), f"-shellcheck={TOOLS_BIN / 'shellcheck'}"]  # both from the `test` group


def workflow_files(github: Path) -> list[Path]:
    return sorted((github / "workflows").glob("*.yml"))


def lint(github: Path) -> None:
    """zizmor at its strictest persona (what remains is ignored inline, each with its one-line reason),
    actionlint with shellcheck, and every action pinned by commit SHA with a version comment."""
    done = run([str(TOOLS_BIN / "zizmor"), "--offline", "--persona=auditor", str(github)], TEMPLATE)
    assert "No findings to report" in done.stdout + done.stderr
    run([*ACTIONLINT, *map(str, workflow_files(github))], TEMPLATE)
    for path in workflow_files(github):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line:
                ref = line.split("uses:", 1)[1].strip()
                assert ref.startswith("./") or (len(ref.split("@")[1].split()[0]) == 40 and "# v" in ref), (
                    f"{path.name}: {ref} is not pinned to a full commit SHA with a version comment"
                )


def test_the_templates_own_workflows_pass_the_linters():
    lint(TEMPLATE / ".github")


def test_the_workflows_of_every_pairwise_bake_pass_the_linters(pairwise_bake):
    """Every remote type meets every comment tool, deploy target and Python version (conftest.py)."""
    _, project = pairwise_bake
    # CI, report, update, deploy, model health, search.
    assert [path.name for path in workflow_files(project / ".github")] == [
        "ci.yml",
        "deploy.yml",
        "model-health.yml",
        "pr-report.yml",
        "search.yml",
        "template-update.yml",
    ]
    lint(project / ".github")


def test_the_linters_do_catch_a_bad_workflow(tmp_path):
    # Guards the two tests above against a linter that silently checks nothing.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "permissions: write-all\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - run: echo ${{ matrix.missing }}\n"
        "      - run: cd $RUNNER_TEMP\n"
    )
    zizmor = run([str(TOOLS_BIN / "zizmor"), "--offline", "--persona=pedantic", str(tmp_path)], tmp_path, check=False)
    assert zizmor.returncode != 0 and "template-injection" in zizmor.stdout
    lint = run(
        [str(TOOLS_BIN / "actionlint"), f"-shellcheck={TOOLS_BIN / 'shellcheck'}", str(bad)], tmp_path, check=False
    )
    assert lint.returncode == 1 and 'property "missing" is not defined' in lint.stdout
    assert "SC2086" in lint.stdout, "shellcheck ran on the run: scripts"


def test_the_templates_workflows_and_actions_hold_no_jinja_statement():
    # Variants are whole files (the post-gen hook's VARIANTS), GitHub's ${{ }} is written as GitHub
    # writes it (hooks/expressions.py), and the only Jinja left is an inline {{ }} of an answer or
    # of a derived value (hooks/derived.py).
    files = sorted(path for path in PROJECT_GITHUB.rglob("*.yml") if {"workflows", "actions"} & set(path.parts))
    assert len(files) == 4 + 4 + 2 + 6, [path.relative_to(PROJECT_GITHUB).as_posix() for path in files]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            assert "{%" not in line and "{#" not in line, f"{path.relative_to(PROJECT_GITHUB)}: {line}"
            assert not TEMPLATE_JINJA.search(line), f"{path.relative_to(PROJECT_GITHUB)}: {line}"


def jobs_of(path: Path) -> dict[str, str]:
    """Each job's text by its id: the lines below `  <id>:` under `jobs:`, up to the next job."""
    jobs = path.read_text(encoding="utf-8").split("\njobs:\n", 1)[1]
    parts = re.split(r"(?m)^  ([\w-]+):\n", jobs)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_variants_of_a_workflow_share_their_common_jobs_line_for_line():
    # A whole file per variant repeats what the variants share: a change to it must reach each file.
    deploy = {path.stem: jobs_of(path) for path in (PROJECT_GITHUB / "workflows" / "_deploy").glob("*.yml")}
    assert set(deploy) == set(CHOICES["deploy_target"])
    assert len({jobs["build"] for jobs in deploy.values()}) == 1, "the build job differs between deploy targets"
    shipping = [jobs for target, jobs in deploy.items() if target != "none"]
    assert len({jobs["release"] for jobs in shipping}) == 1, "the release job differs between deploy targets"

    # The deploy job (its permissions are the target's): the same steps up to the verified image, then the
    # target's own steps, then the same record.
    def checks(job: str) -> str:
        verify = job.index("name: Verify the image's build provenance")
        return job[job.index("    steps:\n") : job.index("\n\n", verify)]

    assert len({checks(jobs["deploy"]) for jobs in shipping}) == 1, "the deploy job's checks differ between targets"
    record = "      - name: Record the version in production"
    assert len({jobs["deploy"].split(record)[1] for jobs in shipping}) == 1, "the deploy job's record differs"
    reports = [jobs_of(path) for path in (PROJECT_GITHUB / "workflows" / "_pr-report").glob("*.yml")]
    assert len(reports) == len(CHOICES["pr_comment"])
    assert len({jobs["report"] for jobs in reports}) == 1, "the report job differs between comment tools"
