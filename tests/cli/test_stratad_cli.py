"""stratad's own command line: --help, --version (with the git commit and
build type compiled in), check-config (the config loader's verdict, nothing
started), and the systemd readiness notification (READY=1 once clients can
connect, STOPPING=1 on SIGTERM).

Run by ctest (cli.test_stratad_cli) with STRATAD set; no broker is needed
but the one the notification test starts on a free port.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import SOURCE_DIR, STRATAD, free_port, run_tests  # noqa: E402


def stratad(*args, env=None, cwd=None, timeout=20):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    full_env.update(env or {})
    return subprocess.run([STRATAD, *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)


def test_help_lists_the_commands_and_options():
    for flag in ("--help", "-h"):
        result = stratad(flag)
        assert result.returncode == 0, result
        for word in ("--config", "--log-level", "--version", "format", "random-uuid", "check-config",
                     "STRATA_LOG_DIRS"):
            assert word in result.stdout, f"{flag} does not mention {word}:\n{result.stdout}"
    result = stratad("check-config", "--help")
    assert result.returncode == 0 and "file" in result.stdout.lower(), result


def test_version_names_the_commit_and_build_type():
    result = stratad("--version")
    assert result.returncode == 0, result
    match = re.fullmatch(r"stratad (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown), (\w+) build\)\n",
                         result.stdout)
    assert match, f"unexpected --version output: {result.stdout!r}"
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as fh:
        declared = re.search(r"project\(strata VERSION ([\d.]+)", fh.read()).group(1)
    assert match.group(1) == declared, (match.group(1), declared)
    assert match.group(4) in ("Debug", "Release", "RelWithDebInfo", "MinSizeRel"), match.group(4)
    # The binary was built from this tree: its commit is this tree's HEAD
    # (or an ancestor, when commits were made since the last build).
    head = subprocess.run(["git", "-C", SOURCE_DIR, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and match.group(2) != "unknown":
        commit = match.group(2).removesuffix("-dirty")
        ancestor = subprocess.run(["git", "-C", SOURCE_DIR, "merge-base", "--is-ancestor", commit, "HEAD"])
        assert ancestor.returncode == 0, f"{commit} is not HEAD or an ancestor of it"
    assert stratad("-V").stdout == result.stdout


def test_check_config_accepts_every_shipped_config():
    configs = [os.path.join(SOURCE_DIR, "config", name) for name in sorted(os.listdir(os.path.join(SOURCE_DIR, "config")))]
    configs += [os.path.join(SOURCE_DIR, "packaging", "strata.yaml"), os.path.join(SOURCE_DIR, "docker", "strata.yaml")]
    for path in configs:
        result = stratad("check-config", path)
        assert result.returncode == 0, f"{path}: {result}"
        assert result.stdout.startswith(f"{path}: valid (node "), result.stdout


def test_check_config_rejects_with_the_loaders_message_and_starts_nothing():
    work = tempfile.mkdtemp(prefix="strata-check-")
    data = os.path.join(work, "data")
    port = free_port()
    cases = {
        "unknown key": (f"node.id: 1\nlisteners: PLAINTEXT://127.0.0.1:{port}\nlog.dirs: {data}\nno.such.key: 3\n",
                        "no.such.key"),
        "bad value": (f"node.id: one\nlisteners: PLAINTEXT://127.0.0.1:{port}\nlog.dirs: {data}\n", "node.id"),
        "not yaml": ("node.id: [1\n", ""),
    }
    for name, (text, mention) in cases.items():
        path = os.path.join(work, name.replace(" ", "_") + ".yaml")
        with open(path, "w") as fh:
            fh.write(text)
        result = stratad("check-config", path, cwd=work)
        assert result.returncode == 1, f"{name}: {result}"
        assert result.stderr.startswith("stratad: ") and mention in result.stderr, f"{name}: {result.stderr}"
        assert result.stdout == "", f"{name}: {result.stdout}"
    missing = stratad("check-config", os.path.join(work, "absent.yaml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr, missing
    # A valid file: nothing created, nothing bound.
    path = os.path.join(work, "good.yaml")
    with open(path, "w") as fh:
        fh.write(f"node.id: 1\nprocess.roles: broker,controller\nlisteners: PLAINTEXT://127.0.0.1:{port}\n"
                 f"log.dirs: {data}\n")
    result = stratad("check-config", path, cwd=work)
    assert result.returncode == 0, result
    assert not os.path.exists(data), "check-config created the data directory"
    # The environment overrides count, as they would for the node.
    result = stratad("check-config", path, env={"STRATA_NODE_ID": "x"})
    assert result.returncode == 1 and "node.id" in result.stderr, result
    assert stratad("check-config").returncode != 0


def test_systemd_readiness_notification():
    work = tempfile.mkdtemp(prefix="strata-notify-")
    notify_path = os.path.join(work, "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(20)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    env.update({"NOTIFY_SOCKET": notify_path, "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
                "STRATA_LOG_DIRS": os.path.join(work, "data"), "STRATA_HTTP_LISTENERS": ""})
    proc = subprocess.Popen([STRATAD], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert listener.recv(4096) == b"READY=1"
        # Ready means a client can connect now.
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        proc.send_signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1"
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()


if __name__ == "__main__":
    run_tests([
        test_help_lists_the_commands_and_options,
        test_version_names_the_commit_and_build_type,
        test_check_config_accepts_every_shipped_config,
        test_check_config_rejects_with_the_loaders_message_and_starts_nothing,
        test_systemd_readiness_notification,
    ])
