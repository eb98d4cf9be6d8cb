"""The history of one chaos run: every operation with its start (t0), end
(t1, both seconds since the run began, monotonic clock), and outcome,
appended from many threads, written as JSONL (one operation a line, in the
order they finished; `index` numbers them)."""

import json
import threading
import time


class History:
    def __init__(self):
        self.start = time.monotonic()
        self.ops = []
        self._lock = threading.Lock()

    def now(self):
        return round(time.monotonic() - self.start, 4)

    def add(self, op):
        with self._lock:
            op["index"] = len(self.ops)
            self.ops.append(op)
        return op

    def write(self, path, header):
        with open(path, "w") as fh:
            fh.write(json.dumps(dict(header, f="run")) + "\n")
            for op in self.ops:
                fh.write(json.dumps(op) + "\n")


def load(path):
    """(header, ops) of a history file, for re-checking it: `python3
    tests/fault/run.py --check FILE`."""
    header, ops = None, []
    with open(path) as fh:
        for line in fh:
            op = json.loads(line)
            if op.get("f") == "run":
                header = op
            else:
                ops.append(op)
    return header, ops
