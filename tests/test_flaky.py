"""A test that passes only on its second try is named in the log and, under CI, fails the run."""
import os
import subprocess
import sys

from tests.servers import ROOT

FLAKY = '''
import pathlib

TRIED = pathlib.Path(__file__).with_name("tried")


def test_passes_on_its_second_try():
    first = not TRIED.exists()
    TRIED.touch()
    assert not first
'''
CONFTEST = '''
from tests.flaky import RerunWatch


def pytest_configure(config):
    config.pluginmanager.register(RerunWatch(), "rerun-watch")
'''


def run_flaky_suite(tmp_path, ci, source=FLAKY):
    (tmp_path / "test_flaky_one.py").write_text(source)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "tried").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django",
                           "--reruns", "1", "-rR", "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_under_ci_a_test_that_needed_a_rerun_fails_the_run_and_is_named(tmp_path):
    result = run_flaky_suite(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout
    assert "FLAKY test_flaky_one.py::test_passes_on_its_second_try" in result.stdout
    assert "1 passed, 1 rerun" in result.stdout


def test_outside_ci_the_rerun_is_named_and_the_run_passes(tmp_path):
    result = run_flaky_suite(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "FLAKY test_flaky_one.py::test_passes_on_its_second_try" in result.stdout
    assert "CI would fail this run" in result.stdout


def test_a_test_that_fails_every_try_is_a_failure_not_a_flake(tmp_path):
    result = run_flaky_suite(tmp_path, ci=False, source="def test_always_fails():\n    assert False\n")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 rerun" in result.stdout
    assert "FLAKY" not in result.stdout and "passed only when tried again" not in result.stdout
