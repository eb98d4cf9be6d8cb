#!/usr/bin/python3
"""num.io.threads sizes the data plane's partition strands: two brokers that
differ only in it differ in their thread counts (/proc/<pid>/task) by exactly
the difference of the key. A bad value is refused at start-up with the
key's name."""

import os
import shutil
import subprocess

from harness import STRATAD, Broker, run_tests, wait_for


def threads(broker):
    return len(os.listdir(f"/proc/{broker.proc.pid}/task"))


def test_io_threads_size_the_partition_strands():
    small = Broker(extra_env={"STRATA_NUM_IO_THREADS": "1"})
    large = Broker(extra_env={"STRATA_NUM_IO_THREADS": "5"})
    with small, large:  # started and ready
        expected = 5 - 1
        # Both idle and ready: every other thread (network, metadata quorum,
        # flushers, RocksDB, housekeeping) is the same in both.
        wait_for(lambda: threads(large) - threads(small) == expected, timeout=10,
                 what=f"a difference of {expected} threads (now {threads(large)} vs {threads(small)})")


def test_a_bad_thread_count_is_refused():
    broker = Broker(extra_env={"STRATA_NUM_IO_THREADS": "-1"})  # not started: run by hand
    try:
        result = subprocess.run([STRATAD], env=broker.env, cwd=broker.workdir, capture_output=True, text=True,
                                timeout=20)
    finally:
        shutil.rmtree(broker.workdir, ignore_errors=True)
    assert result.returncode != 0, result
    assert "num.io.threads" in result.stderr + result.stdout, result.stderr + result.stdout


if __name__ == "__main__":
    run_tests([test_io_threads_size_the_partition_strands, test_a_bad_thread_count_is_refused])
