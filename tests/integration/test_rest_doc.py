#!/usr/bin/python3
"""Runs the curl examples of docs/rest.md against a three-node cluster, in the
doc's order, so that the page stays true (issue 17), as
tests/cli/test_quickstart.py does for docs/quickstart.md.

Each ```sh block is read as a terminal session: a line starting `$ ` is a
command (continued by a trailing backslash or an open quote), the lines
after it up to the next command or comment are its documented answer. Each
command runs with bash -euo pipefail, as written, but for the host: the
doc's `localhost:8080` becomes the HTTP listener of the next broker of the
cluster in turn (1, 2, 3, 1, ...). A command without curl (an assignment
such as `C=localhost:8080/consumers/...`) takes the broker of the curl
before it, as the v2 instance it names lives there. Variables a command
assigns (CLUSTER, V2, C, ...) carry over to the commands after it.

Each call's HTTP status is checked (curl is wrapped to report it):

- a trailing `# NNN` on the command is its status;
- otherwise a documented answer of Confluent's error shape
  ({"error_code": 40403, "message": ...}) gives it (40403 -> 404);
- otherwise 200.

Where the doc shows an answer, the real one must have its shape: the same
JSON types, the same keys (at least those shown when the doc elides the
rest with `...`), recursively; an object in a list has the shape of one of
the doc's objects there, a scalar that of the doc's at its position. Output of a jq filter must not be empty or hold
nulls (a filter naming a field the answer lacks). An idempotent GET answered
with another status or nothing is asked again for up to RETRY_S seconds
(a topic just created through another broker, a v2 consumer's first poll
while it joins its group); anything else is asked once.

A block after `<!-- rest-doc: skip (why) -->` is not run (the 15 s wait of a
group whose coordinator is down, tested by test_rest_cluster_unavailable.py).
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time

from harness import SOURCE_DIR, Cluster, run_tests

DOC = os.environ.get("STRATA_REST_DOC", os.path.join(SOURCE_DIR, "docs", "rest.md"))
BLOCK = re.compile(r"(<!-- rest-doc: skip[^>]*-->\s*)?```(?:sh|bash)\n(.*?)```", re.S)
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")
STATUS_NOTE = re.compile(r"#\s*([1-5]\d\d)\b[^'\"]*$")
RETRY_S = 10.0
ENV = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0", "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
       "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3"}
# curl as the doc calls it, reporting each answer's status on stderr.
PRELUDE = """curl() { command curl -w '%{stderr}@status %{http_code}\\n' "$@"; }
"""


class Step:
    def __init__(self, command, line):
        self.command = command
        self.line = line  # in the doc, for messages
        self.output = []

    @property
    def documented(self):
        return "\n".join(self.output).strip()

    def expected_status(self):
        note = STATUS_NOTE.search(self.command.splitlines()[-1])
        if note:
            return int(note.group(1))
        values, _ = parse_values(self.documented)
        if len(values) == 1 and isinstance(values[0], dict) and set(values[0]) == {"error_code", "message"}:
            code = values[0]["error_code"]
            return code // 100 if code >= 1000 else code
        return 200


def complete(command):
    """False while a quote is open."""
    try:
        shlex.split(command, comments=True)
        return True
    except ValueError:
        return False


def continues(command):
    """A command goes on to the next line after a backslash, a pipe, or
    inside a quote (a -d body over several lines)."""
    return command.endswith("\\") or command.rstrip().endswith("|") or not complete(command)


def steps_of(text, first_line):
    steps, current, continued = [], None, False
    for offset, line in enumerate(text.splitlines()):
        if current is not None and continued:
            current.command += "\n" + line
            continued = continues(current.command)
        elif line.startswith("$ "):
            current = Step(line[2:], first_line + offset)
            steps.append(current)
            continued = continues(current.command)
        elif line.startswith("#") or not line.strip():
            if current is not None and current.output:
                current = None  # a comment ends an answer
        elif current is not None:
            current.output.append(line)
        else:
            raise AssertionError(f"docs/rest.md:{first_line + offset}: output before any command: {line!r}")
    return steps


def doc_steps():
    with open(DOC) as fh:
        text = fh.read()
    steps, skipped = [], 0
    for m in BLOCK.finditer(text):
        if m.group(1):
            skipped += 1
            continue
        steps += steps_of(m.group(2), text.count("\n", 0, m.start(2)) + 1)
    return steps, skipped


def parse_values(text):
    """The JSON values of `text` one after the other, and whether the doc
    elided part of them (`...`, as in `"partition_id":1,...}`)."""
    elided = "..." in text
    text = re.sub(r",\s*\.\.\.\s*([}\]])", r"\1", text).replace("...", "")
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return values, elided
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def shape_errors(documented, actual, elided, where="answer"):
    """How `actual` differs from the shape of `documented`; a documented null
    (a key or value left out) matches anything."""
    if documented is None:
        return []
    if actual is None:
        return [f"{where}: null where the doc shows {json.dumps(documented)[:60]}"]
    if kind(documented) != kind(actual):
        return [f"{where}: a {kind(actual)} where the doc shows a {kind(documented)}"]
    if isinstance(documented, dict):
        missing = sorted(set(documented) - set(actual))
        extra = [] if elided else sorted(set(actual) - set(documented))
        errors = [f"{where}: missing keys {missing}"] if missing else []
        if extra:
            errors.append(f"{where}: keys the doc does not show {extra}")
        for key in documented:
            if key in actual:
                errors += shape_errors(documented[key], actual[key], elided, f"{where}.{key}")
        return errors
    if isinstance(documented, list):
        if documented and not actual:
            return [f"{where}: an empty list where the doc shows {len(documented)} element(s)"]
        errors = []
        for i, element in enumerate(actual):
            if documented and not isinstance(documented[0], (dict, list)):
                # Scalars: positional (a jq row [topic, partition, offsets...]).
                errors += shape_errors(documented[min(i, len(documented) - 1)], element, elided, f"{where}[{i}]")
                continue
            # Objects: each has the shape of one of the doc's (a record with
            # a key, one without).
            tried = [shape_errors(d, element, elided, f"{where}[{i}]") for d in documented or [None]]
            if all(tried):
                errors += tried[0]
        return errors
    return []


def idempotent(command):
    method = re.search(r"-X\s+([A-Z]+)", command)
    return (method.group(1) if method else ("POST" if re.search(r"\s(-d|--data\S*)\s", command) else "GET")) == "GET"


def run_step(step, port, env):
    """Runs one command; (status, stdout, problems, new variables)."""
    command = step.command.replace("localhost:8080", f"127.0.0.1:{port}")
    assigned = ASSIGNMENT.match(command)
    script = PRELUDE + command
    if assigned:
        script += f'\nprintf "@var %s\\n" "${assigned.group(1)}" >&2'
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                            timeout=60)
    statuses = [int(s) for s in re.findall(r"^@status (\d+)$", result.stderr, re.M)]
    variables = {}
    if assigned:
        values = re.findall(r"^@var (.*)$", result.stderr, re.M)
        variables[assigned.group(1)] = values[-1] if values else ""
    problems = []
    if result.returncode != 0:
        problems.append(f"exit status {result.returncode}: {result.stderr.strip()[-300:]}")
    status = statuses[-1] if statuses else None
    if "curl" in command:
        expected = step.expected_status()
        if status != expected:
            problems.append(f"HTTP {status}, the doc says {expected}")
    if assigned and "curl" in command and not variables[assigned.group(1)]:
        problems.append(f"{assigned.group(1)} is empty")
    out = result.stdout.strip()
    jq = re.search(r"\|\s*jq\b(.*)$", command, re.S)
    try:
        actual, _ = parse_values(out) if out and not (jq and " -r" in jq.group(1)) else ([], False)
    except json.JSONDecodeError as e:
        actual = []
        problems.append(f"the answer is not JSON ({e}): {out[:200]}")
    if jq and not assigned and not out:
        problems.append("the jq filter printed nothing")
    if jq and not (" -r" in jq.group(1)):
        for value in actual:
            nulls = [k for k, v in value.items() if v is None] if isinstance(value, dict) else (
                [i for i, v in enumerate(value) if v is None] if isinstance(value, list) else [])
            if value is None or nulls:
                problems.append(f"the jq filter printed nulls ({nulls or 'null'}): {json.dumps(value)[:200]}")
    if step.documented:
        documented, elided = parse_values(step.documented)
        if len(documented) == 1 and len(actual) == 1:
            problems += shape_errors(documented[0], actual[0], elided)
        elif jq and actual or len(documented) > 1 and len(actual) == len(documented):
            # A jq stream (one value per broker, group, partition: as many as
            # the cluster has) or one report per record (the streaming
            # produce): each value has the shape of one the doc shows.
            problems += shape_errors(documented, actual, elided)
        else:
            problems.append(f"{len(actual)} JSON values where the doc shows {len(documented)}: {out[:200]}")
    return status, out, problems, variables


def test_every_example_of_docs_rest_md():
    steps, skipped = doc_steps()
    curls = sum("curl" in s.command for s in steps)
    # A page that lost its examples (or a parser that no longer finds them)
    # must not pass by running none.
    assert curls >= 40, f"only {curls} curl examples found in {DOC}"
    with Cluster(3, extra_env=ENV) as cluster:
        for node in cluster.nodes:
            node.wait_ready(30)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        turn, port, failures = 0, None, []
        start = time.monotonic()
        for step in steps:
            if "curl" in step.command or port is None:
                node = cluster.nodes[turn % len(cluster.nodes)]
                turn += 1
                port = node.http_port
            deadline = time.monotonic() + RETRY_S
            while True:
                status, out, problems, variables = run_step(step, port, env)
                transient = status != step.expected_status() or out in ("", "[]")
                if not problems or not transient or not idempotent(step.command) or time.monotonic() >= deadline:
                    break
                time.sleep(0.3)
            env.update(variables)
            shown = " ".join(step.command.split())
            print(f"{'ok  ' if not problems else 'FAIL'} rest.md:{step.line} broker {node.node_id} HTTP {status}: "
                  f"{shown[:110]}", flush=True)
            if problems:
                print("     " + "\n     ".join(problems) + f"\n     answer: {out[:400]}", flush=True)
                failures.append(f"docs/rest.md:{step.line}: {shown[:80]}: {'; '.join(problems)}")
        print(f"{len(steps)} commands ({curls} curl calls) in {time.monotonic() - start:.1f}s, "
              f"{skipped} block(s) skipped", flush=True)
        assert not failures, "examples of docs/rest.md that do not hold:\n" + "\n".join(failures)


if __name__ == "__main__":
    run_tests([test_every_example_of_docs_rest_md])
