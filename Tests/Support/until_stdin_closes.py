"""Runs a command until this script's standard input closes, then stops it.

Tests start servers through it (moto, ministack): when the test process ends,
for whatever reason, the pipe closes and the server goes with it.
"""
import os
import signal
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:], start_new_session=True)
try:
    sys.stdin.read()
finally:
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=10)
    except Exception:
        os.killpg(child.pid, signal.SIGKILL)
