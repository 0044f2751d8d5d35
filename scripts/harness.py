"""What the scripts that start the real binary share: free ports, waiting for a condition, and
plain HTTP calls. Imported by scripts/rollout-test.py, scripts/observability-check.py and
scripts/desk-workload.py (each adds its own directory to `sys.path`)."""

import os
import socket
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fail(what):
    """Stops the script, non-zero, with `FAILED: what`."""
    sys.exit(f"FAILED: {what}")


def wait_for(what, check, seconds=30, every=0.1):
    """Polls `check` until it is true (connection errors count as false); fails after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(every)
    fail(f"{what} within {seconds} s")


def call(url, body=None, headers=None, timeout=10):
    """GET, or POST `body` (bytes, JSON): the status and the body's bytes (an error status too)."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def status_of(url, timeout=2):
    """The status a GET of `url` answers."""
    return call(url, timeout=timeout)[0]
