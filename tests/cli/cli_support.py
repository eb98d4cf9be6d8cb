"""Support for the `strata` CLI tests: run the binary, normalize its output
(cluster ids, topic ids, member ids, ports, times), compare with golden files.

STRATA is the binary (ctest passes it); STRATA_UPDATE_GOLDEN=1 rewrites the
golden files from the current output instead of comparing.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import SOURCE_DIR  # noqa: E402

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(SOURCE_DIR, "build", "src", "strata")))
GOLDEN_DIR = os.path.join(HERE, "golden")


class Result:
    def __init__(self, proc, seconds):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.seconds = seconds

    def __repr__(self):
        return f"exit {self.code} in {self.seconds:.2f}s\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run(args, broker=None, input=None, timeout=60, env=None):
    """Runs strata with `args` (a list) against `broker` (a harness Broker,
    or a bootstrap string, or None for no -b)."""
    argv = [STRATA]
    if broker is not None:
        argv += ["-b", broker if isinstance(broker, str) else broker.bootstrap]
    argv += args
    full_env = dict(os.environ)
    full_env.pop("STRATA_BROKERS", None)
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=full_env)
    return Result(proc, time.monotonic() - start)


def ok(args, broker=None, **kw):
    result = run(args, broker, **kw)
    assert result.code == 0, f"strata {' '.join(args)}: {result}"
    return result


def fails(args, broker=None, code=1, **kw):
    result = run(args, broker, **kw)
    assert result.code == code, f"strata {' '.join(args)}: expected exit {code}, got {result}"
    return result


def normalize(text, broker=None):
    """Replaces what differs between runs with stable placeholders."""
    if broker is not None:
        text = text.replace(str(broker.port), "<PORT>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<TIME>", text)
    text = re.sub(r"\b1[6-9]\d{11}\b", "<TS>", text)  # epoch milliseconds (2020s)
    text = re.sub(r"\b\d+ ms ago\b", "<N> ms ago", text)
    # Group member ids (KIP-394: client id, then a UUID the coordinator made);
    # the placeholder has the UUID's width, so that tables stay aligned.
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", text)
    # Kafka ids: 22 characters of URL-safe base64 (cluster ids, topic ids).
    text = re.sub(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])", "<ID>", text)
    return text


def golden(name, text, broker=None):
    """Compares normalized `text` with tests/cli/golden/<name>."""
    text = normalize(text, broker)
    path = os.path.join(GOLDEN_DIR, name)
    if os.environ.get("STRATA_UPDATE_GOLDEN") == "1" or not os.path.exists(path) and os.environ.get("STRATA_NEW_GOLDEN") == "1":
        with open(path, "w") as fh:
            fh.write(text)
        return
    with open(path) as fh:
        expected = fh.read()
    if text != expected:
        import difflib
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden/" + name, "actual"))
        raise AssertionError(f"output differs from golden/{name}:\n{diff}")
