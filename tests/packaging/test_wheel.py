"""An installed Sanad works from any folder: the wheel carries the interface catalogs and the GBV
reference module, and `sanad` uses the packaged module when no --definitions is given.

The test builds the wheel, installs it into a fresh virtual environment (dependencies from the
package index, as a user would), and runs `sanad` from an empty temporary folder, far from this
checkout."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from setuptools import find_packages

from tests.conftest import ROOT

CI = os.environ.get("CI") == "true"


def test_the_package_list_names_every_package_of_the_source_tree() -> None:
    listed = tomllib.loads(Path(ROOT, "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]
    found = find_packages(ROOT, include=["engine", "engine.*", "renderers", "renderers.*"])
    assert sorted(p for p in listed if not p.startswith("engine.bundled")) == sorted(found)


def _run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `bin` folder of a fresh virtual environment with the wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", ROOT)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("sanad-*.whl"))
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    done = _run(bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    if done.returncode != 0:
        if not CI and ("Could not find a version" in done.stderr or "NewConnectionError" in done.stderr):
            pytest.skip("the package index is not reachable to install the wheel's dependencies")
        pytest.fail(f"installing the wheel failed:\n{done.stderr}")
    yield bin_dir


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANAD_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "SANAD_DATA_DIR": str(tmp / "data")}


def test_the_wheel_holds_the_catalogs_and_the_reference_module(installed: Path, tmp_path: Path) -> None:
    code = "import os, engine.language.packaged as p; print(p.reference_module()); print(p.locales_folder())"
    shown = _run(installed / "python", "-c", code, cwd=tmp_path, env=_env(tmp_path))
    module, locales = shown.stdout.split()
    assert "site-packages" in module and Path(module, "module.yaml").is_file()
    assert Path(module, "demo", "people.yaml").is_file()
    assert Path(locales, "ar", "LC_MESSAGES", "sanad.po").is_file()
    assert Path(locales, "fr", "LC_MESSAGES", "gbv.po").is_file()
    assert not Path(module).is_relative_to(ROOT)


def test_validate_checks_the_packaged_module_from_any_folder(installed: Path, tmp_path: Path) -> None:
    done = _run(installed / "sanad", "validate", cwd=tmp_path, env=_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"gbv: OK: 13 forms, .*demo: 40 people", done.stdout), done.stdout
    assert "0 errors, 0 warnings in 1 module" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_demo_answers_in_arabic(installed: Path, tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(installed / "sanad"), "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = None
        deadline = time.monotonic() + 120
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login?locale=ar", timeout=2) as r:
                    page = r.read().decode("utf-8")
            except OSError:
                time.sleep(0.2)
        assert page is not None, "the server did not answer"
        assert 'dir="rtl"' in page and 'lang="ar"' in page
        assert "تسجيل الدخول" in page  # "Sign in"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Demo accounts" in out and "caseworker2" in out, out + err
    assert "module.not-found" not in err
