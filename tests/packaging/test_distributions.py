"""The wheel and the sdist, built with ``python -m build`` and inspected as a user's tools would."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://github.com/openapi-pec/openapi-pec"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: hatchling comes from the test extra, so no download happens here
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "-o", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def wheel_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def sdist_names(path: Path) -> list[str]:
    with tarfile.open(path) as tf:
        prefix = f"openapi_pec-{VERSION}/"
        names = [m.name for m in tf.getmembers() if m.isfile()]
    assert all(n.startswith(prefix) for n in names), names
    return [n.removeprefix(prefix) for n in names]


def wheel_metadata(path: Path) -> Message:
    with zipfile.ZipFile(path) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(zf.read(meta).decode("utf-8"))


def test_license_is_the_full_apache_text_in_both(dists: dict[str, Path]) -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    with zipfile.ZipFile(dists["wheel"]) as zf:
        (licence,) = [n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert zf.read(licence).decode("utf-8") == text
    assert "LICENSE" in sdist_names(dists["sdist"])


def test_metadata_has_the_licence_urls_and_classifiers(dists: dict[str, Path]) -> None:
    meta = wheel_metadata(dists["wheel"])
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL") or [])
    assert urls == {
        "Homepage": REPO_URL,
        "Source": REPO_URL,
        "Issues": f"{REPO_URL}/issues",
        "Changelog": f"{REPO_URL}/blob/main/CHANGELOG.md",
    }
    classifiers = set(meta.get_all("Classifier") or [])
    for wanted in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Intended Audience :: Developers",
        "Natural Language :: Italian",
        "Typing :: Typed",
    ):
        assert wanted in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)


def test_sdist_is_the_package_and_its_description(dists: dict[str, Path]) -> None:
    names = set(sdist_names(dists["sdist"]))
    # the sdist holds the package, not half a test suite: no tests, spec pipeline or benchmarks
    top_level = {n.split("/", 1)[0] for n in names}
    assert top_level == {
        "pec_ext",
        "generated",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",  # hatchling always adds it
    }
    # every module the wheel installs comes from the sdist, so a wheel built from it is the same
    packaged = {n for n in wheel_names(dists["wheel"]) if not n.startswith("openapi_pec-")}
    from_sdist = {n.removeprefix("generated/") for n in names if n.endswith((".py", ".typed"))}
    assert packaged <= from_sdist
    typed = {"pec_ext/py.typed", "pec_api/py.typed", "oauth_api/py.typed", "pecmassiva_api/py.typed"}
    assert {*typed, "pec_ext/cli/app.py"} <= packaged


def test_changelog_keeps_an_unreleased_section_and_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    assert f"## [{VERSION}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{VERSION}]")
    assert f"[{VERSION}]: {REPO_URL}/releases/tag/v{VERSION}" in text


def test_readme_links_work_on_the_package_index(dists: dict[str, Path]) -> None:
    description = wheel_metadata(dists["wheel"]).get_payload()
    assert isinstance(description, str)
    assert "openapi-pec" in description
    targets = re.findall(r"\]\(([^)]+)\)", description)
    assert targets  # the README does link somewhere
    assert [t for t in targets if not t.startswith("https://")] == []
    assert f"{REPO_URL}/blob/main/bench/results.md" in targets
    assert "What needs a checkout" in description


def test_the_wheel_installs_the_command_as_pec_and_as_openapi_pec(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(name).decode("utf-8")
    scripts = entry_points.split("[console_scripts]", 1)[1].split("\n[", 1)[0]
    commands = dict(
        (part.strip() for part in line.split("=", 1)) for line in scripts.strip().splitlines() if "=" in line
    )
    assert commands == {"pec": "pec_ext.cli:main", "openapi-pec": "pec_ext.cli:main"}


@pytest.mark.parametrize("command", ["pec", "openapi-pec"])
def test_both_installed_commands_run_and_name_each_other(command: str) -> None:
    script = Path(sys.executable).parent / command
    assert script.is_file(), f"{command} is not installed beside {sys.executable}"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith(f"Usage: {command} ")
    assert "`pec`" in done.stdout
    assert "`openapi-pec`" in done.stdout
