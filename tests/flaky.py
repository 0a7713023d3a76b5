"""A test that passed only when tried again is flaky: the log names it, and under CI the run fails.

`--reruns 1` (pytest.ini) keeps a test that failed once for a reason outside it (a loaded machine) from
failing a long run; without this, a test that needed a second try would pass unseen and never be fixed.
"""
import os

import pytest


class RerunWatch:
    def __init__(self):
        self.rerun = []  # node ids of tests that failed at least once, in order
        self.why = {}  # node id -> how its first try failed, so that the log says what to fix

    def pytest_runtest_logreport(self, report):
        if report.outcome == "rerun" and report.nodeid not in self.why:
            self.why[report.nodeid] = str(report.longrepr)[-3000:]
        elif report.when == "call" and report.passed and report.nodeid in self.why:
            self.rerun.append(report.nodeid)  # a test that failed every try is reported as failed, not here

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        if self.rerun and os.environ.get("CI") and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rerun:
            return
        verdict = "CI fails this run: fix them" if os.environ.get("CI") else "CI would fail this run"
        terminalreporter.section(f"{len(self.rerun)} passed only when tried again ({verdict})", sep="!")
        for nodeid in self.rerun:
            terminalreporter.write_line(f"FLAKY {nodeid}")
        for nodeid in self.rerun:
            terminalreporter.write_sep("-", f"first try of {nodeid}")
            terminalreporter.write_line(self.why[nodeid])
