"""The repository keeps its promises to a newcomer: the README's commands run as written,
its links stay inside the repository, installs are pinned, the image is built sanely."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import repo_root
from tests.test_cli import serving, sqlite_settings

ROOT = repo_root()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_no_link_of_the_readme_points_outside_the_repository() -> None:
    assert "../" not in README
    for target in re.findall(r"\]\(([^)]+)\)", README):
        assert not target.startswith(("http://", "https://")), target
        assert (ROOT / target.split("#")[0]).exists(), target


def test_every_dependency_is_pinned_in_the_constraints_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {
        _name(line): line.split("==", 1)[1]
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    wanted = project["dependencies"] + [
        dep for deps in project["optional-dependencies"].values() for dep in deps
    ]
    missing = [dep for dep in wanted if _name(dep) not in pins and _name(dep) != project["name"]]
    assert missing == [], "pin them in constraints.txt (see its header)"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c constraints.txt" in ci and "-c constraints.txt" in README


def test_the_image_is_pinned_installed_not_editable_unprivileged_and_health_checked() -> None:
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    [base] = re.findall(r"^FROM (\S+)", docker, re.MULTILINE)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    installs = re.findall(r"pip install [^\n&]*", docker)
    assert installs and not any(" -e " in i or "--editable" in i for i in installs)
    assert any("-c " in i and "constraints.txt" in i for i in installs)
    users = re.findall(r"^USER (\S+)", docker, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert docker.index("USER sportello") < docker.index("CMD [")
    [health] = re.findall(r"^HEALTHCHECK .*", docker, re.MULTILINE)
    assert "--start-period=" in health


def test_the_readme_curl_flow_runs_as_written(tmp_path: Path, settings: object) -> None:
    block = README.split("## The main flow with curl", 1)[1].split("\n## ", 1)[0]
    script = "\n".join(
        line[4:] for line in block.splitlines() if line.startswith("    ") or not line.strip()
    )
    quickstart = sqlite_settings(
        settings,  # type: ignore[arg-type]
        tmp_path / "curl.db",
        admin_email="admin@example.com",
        admin_password="change-me-now",
        storage_dir=tmp_path / "attachments",
    )
    with serving(quickstart) as client:
        base = str(client.base_url).rstrip("/").removesuffix("/api/v1")
        script = script.replace("http://localhost:8000", base)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "HTTP/1.1 201" in out  # the ticket
    assert '"filename":"schermata.png"' in out  # the reply's screenshot
    assert '"solution":"Rinnovato il certificato di firma."' in out
    assert '"problem' not in out and '"status":4' not in out and '"status":5' not in out
