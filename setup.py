"""Builds tenantry's Python package: setuptools drives CMake.

CMake builds the pybind11 module `tenantry._core`, the shared engine
library `libtenantry_engine.so` (the module finds it beside itself through
its $ORIGIN run path), the C ABI `libtenantry.so` (for ctypes and cffi
users, sharing that engine library) and the operator's tool `bin/tenantry`
(run path $ORIGIN/..; pyproject.toml's console script `tenantry` execs it);
this file copies the four into the wheel next to the pure-Python package
from python/tenantry. Offline on Debian 12:

    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation .

The CMake build directory is build/pip-<python tag> in the source tree, so a
reinstall rebuilds only what changed.
"""

import glob
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def run(self) -> None:
        tag = sysconfig.get_config_var("SOABI") or "py"
        build_dir = os.path.join(ROOT, "build", f"pip-{tag}")
        configure = [
            "cmake", "-S", ROOT, "-B", build_dir,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DTENANTRY_BUILD_PYTHON=ON",
            "-DTENANTRY_BUILD_TESTS=OFF",
            "-DTENANTRY_BUILD_BENCH=OFF",
            "-DTENANTRY_BUILD_DEMO=OFF",
            f"-DPython_EXECUTABLE={sys.executable}",
            # Warnings are errors only where the project asks (its CI sets
            # TENANTRY_WERROR=1), never for someone merely installing it.
            f"-DTENANTRY_WERROR={'ON' if os.environ.get('TENANTRY_WERROR') == '1' else 'OFF'}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        try:  # pybind11 from PyPI (build isolation) ships its CMake package here
            import pybind11

            configure.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass  # Debian's pybind11-dev: CMake finds it by itself
        subprocess.run(configure, check=True)
        jobs = str(os.cpu_count() or 2)
        subprocess.run(["cmake", "--build", build_dir, "--target", "tenantry_python_package",
                        "-j", jobs], check=True)
        package_dir = os.path.join(build_dir, "python", "tenantry")
        for ext in self.extensions:
            target = os.path.dirname(self.get_ext_fullpath(ext.name))
            os.makedirs(target, exist_ok=True)
            built = glob.glob(os.path.join(package_dir, "_core*.so"))
            built += glob.glob(os.path.join(package_dir, "libtenantry_engine.so.*"))
            built += glob.glob(os.path.join(package_dir, "libtenantry.so.*"))
            tool = os.path.join(package_dir, "bin", "tenantry")
            if len(built) < 3 or not os.access(tool, os.X_OK):
                raise RuntimeError(
                    f"CMake did not build _core, libtenantry_engine, libtenantry and bin/tenantry in {package_dir}")
            for path in built:
                shutil.copy2(path, target)
            # The tool keeps its directory: its run path finds the engine library one up.
            os.makedirs(os.path.join(target, "bin"), exist_ok=True)
            shutil.copy2(tool, os.path.join(target, "bin", "tenantry"))  # copy2 keeps the executable bit


setup(ext_modules=[CMakeExtension("tenantry._core")], cmdclass={"build_ext": CMakeBuild})
