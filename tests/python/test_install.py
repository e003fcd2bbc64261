"""The package under test is the one pip installed (scripts/venv.sh --fresh in
scripts/test.sh), with everything a user's install needs."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import subprocess
import sys

import pytest

import tenantry

PACKAGE_DIR = pathlib.Path(tenantry.__file__).resolve().parent
# The engine library's SONAME is its full version (core/CMakeLists.txt).
ENGINE_LIBRARY = f"libtenantry_engine.so.{tenantry.__version__}"
SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2] / "python" / "tenantry"
INSTALLED = sys.prefix != sys.base_prefix and SOURCE_DIR != PACKAGE_DIR and "site-packages" in PACKAGE_DIR.parts

# scripts/test.sh sets TENANTRY_EXPECT_INSTALLED=1: there, running against
# anything but the pip-installed package is a failure, not a skip.
if not INSTALLED and os.environ.get("TENANTRY_EXPECT_INSTALLED") != "1":
    pytest.skip("not running against a pip-installed tenantry (development run)", allow_module_level=True)


def test_package_comes_from_the_venv_site_packages() -> None:
    assert INSTALLED, f"tenantry imported from {PACKAGE_DIR}, not from a venv's site-packages"
    assert pathlib.Path(sys.prefix).resolve() in PACKAGE_DIR.parents


def test_typing_files_and_engine_library_are_installed() -> None:
    for name in ("py.typed", "__init__.pyi", "_core.pyi", ENGINE_LIBRARY, "libtenantry.so.1"):
        assert (PACKAGE_DIR / name).is_file(), name
    assert list(PACKAGE_DIR.glob("_core*.so")), "the compiled module is missing"


def test_the_tool_finds_the_engine_library_of_its_package() -> None:
    # bin/tenantry (the `tenantry` command's tool) has the run path $ORIGIN/..:
    # wherever pip puts the package, the tool loads the package's library.
    tool = PACKAGE_DIR / "bin" / "tenantry"
    assert tool.is_file() and os.access(tool, os.X_OK), tool
    ldd = subprocess.run(["ldd", str(tool)], capture_output=True, text=True, check=True, timeout=60)
    resolved = [line.split("=>")[1].split("(")[0].strip() for line in ldd.stdout.splitlines()
                if "libtenantry_engine" in line]
    assert [os.path.realpath(path) for path in resolved] == [str(PACKAGE_DIR / ENGINE_LIBRARY)], ldd.stdout


def test_one_engine_library_loaded_from_the_package() -> None:
    maps = pathlib.Path("/proc/self/maps").read_text()
    loaded = {line.split()[-1] for line in maps.splitlines() if "libtenantry_engine" in line}
    assert loaded == {str(PACKAGE_DIR / ENGINE_LIBRARY)}


def test_metadata_matches_the_module() -> None:
    assert importlib.metadata.version("tenantry") == tenantry.__version__


def test_imports_from_any_directory(tmp_path: pathlib.Path) -> None:
    script = (
        "import tenantry; e = tenantry.Engine(); u = e.create_user('a@b.c'); "
        "a = e.create_account('A', u); w = e.create_workspace(u, a, 'Work'); "
        "print(e.check(u, w, 'workspace.delete'))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "True"
