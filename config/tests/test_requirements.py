"""The runtime/development split of the requirements: the image gets only what runs the service."""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[A-Za-z0-9._,-]+)\])?==(?P<version>[^\s=<>!~;,]+)$"
)
DEV_TOOLS = ("hypothesis", "responses", "playwright", "ruff", "import-linter", "honcho")


def _lines(filename: str) -> list[str]:
    text = (ROOT / filename).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _pins(filename: str) -> dict[str, re.Match]:
    return {canonicalize_name(m["name"]): m for m in map(PIN.match, _lines(filename)) if m}


def _is_dev_tool(name: str) -> bool:
    return name == "pytest" or name.startswith("pytest-") or name in DEV_TOOLS


@pytest.mark.parametrize("filename", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned_exactly(filename):
    lines = _lines(filename)
    if filename == "requirements-dev.txt":
        lines = lines[1:]  # the -r include, checked below
    unpinned = [line for line in lines if not PIN.match(line)]
    assert lines
    assert unpinned == []


def test_runtime_requirements_hold_no_development_tool():
    assert [name for name in _pins("requirements.txt") if _is_dev_tool(name)] == []


def test_development_requirements_include_runtime_and_add_the_tools():
    assert (ROOT / "requirements-dev.txt").read_text().splitlines()[0] == "-r requirements.txt"
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert set(runtime) & set(dev) == set()  # one pin per package
    for tool in ("pytest", "pytest-django", "pytest-xdist", *DEV_TOOLS):
        assert tool in dev, tool


def test_runtime_requirements_are_closed_under_their_dependencies():
    """Every dependency of a runtime pin (on this platform) is pinned in requirements.txt itself."""
    runtime = _pins("requirements.txt")
    for name, pin in runtime.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed: this environment was not installed from the requirements")
        if installed != pin["version"]:
            pytest.skip(f"{name} {installed} is installed, not the pinned {pin['version']}")
    missing = set()
    for name, pin in runtime.items():
        extras = {canonicalize_name(extra) for extra in (pin["extras"] or "").split(",") if extra} or {""}
        for requirement in map(Requirement, metadata.requires(name) or []):
            wanted = any(requirement.marker is None or requirement.marker.evaluate({"extra": e}) for e in extras)
            if wanted and canonicalize_name(requirement.name) not in runtime:
                missing.add(f"{requirement.name} (needed by {name})")
    assert missing == set()


def test_image_installs_only_the_runtime_requirements():
    instructions = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    installs = [line for line in instructions if "pip install" in line]
    assert installs
    assert all(re.search(r"-r requirements\.txt(\s|$)", line) for line in installs)
    assert not any("requirements-dev" in line for line in instructions)
    assert "requirements-dev" not in (ROOT / "docker-compose.yml").read_text()
