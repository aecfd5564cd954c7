"""Runs the training scripts of tests/scripts as subprocesses (killed and resumed runs)."""

import os
import subprocess
import sys

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


def run_script(name, mode, backup, out):
    """Runs ``scripts/<name> MODE BACKUP_DIR OUT``; returns the `subprocess.CompletedProcess`."""
    return subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, name), mode, str(backup), str(out)],
        capture_output=True,
        text=True,
    )
