"""ctest's python_module and python_dask: runs test_module.py or test_dask.py with pytest.

    /usr/bin/python3 tests/python/run.py module|dask BUILD_DIR [pytest args...]

Exits 77 (ctest: skipped), saying why, when pytest, numpy, the built module
(BUILD_DIR/python/mien) or, for dask, python3-distributed is missing.
"""

import os
import sys


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("module", "dask"):
        print(__doc__, file=sys.stderr)
        return 2
    which, build = sys.argv[1], os.path.abspath(sys.argv[2])
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    package = os.path.join(build, "python")
    sys.path.insert(0, package)
    os.environ["PYTHONPATH"] = package + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ.setdefault("MIEN_BUILD_DIR", build)
    try:
        import pytest  # noqa: F401
    except ImportError:
        skip(f"no pytest for {sys.executable} (apt-get install python3-pytest)")
    try:
        import numpy  # noqa: F401
    except ImportError:
        skip(f"no numpy for {sys.executable} (apt-get install python3-numpy)")
    try:
        import mien  # noqa: F401
    except ImportError as e:
        skip(f"the Python module is not built in {package} ({e}): pybind11-dev missing, "
             "MIEN_BUILD_PYTHON=OFF, or build the target mien_python")
    if which == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            skip(f"no distributed for {sys.executable} (apt-get install python3-distributed)")
    here = os.path.dirname(os.path.abspath(__file__))
    return pytest.main([os.path.join(here, f"test_{which}.py"), "-v", "-p", "no:cacheprovider",
                        "-W", "ignore::DeprecationWarning",
                        *sys.argv[3:]])


if __name__ == "__main__":
    sys.exit(main())
