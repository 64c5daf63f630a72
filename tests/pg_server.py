"""A throw-away PostgreSQL server on loopback for the shared-study tests.

The server binaries (initdb, pg_ctl) come from ``$MMIB_PG_BIN``, the PATH or Debian's
``/usr/lib/postgresql/<version>/bin`` (``.ci/run`` installs the ``postgresql`` package when
they are missing). PostgreSQL refuses to run as root, so under root the data folder is given
to ``nobody`` and the server runs as that user (``runuser``). Without the binaries the tests
are skipped with the reason - except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    candidates = [os.environ.get("MMIB_PG_BIN", "")]
    if shutil.which("pg_ctl"):
        candidates.append(str(Path(shutil.which("pg_ctl")).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """``postgresql://mmib@127.0.0.1:PORT/postgres`` of a fresh server, stopped afterwards."""
    bin_dir = server_bin()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no PostgreSQL server binaries (initdb, pg_ctl) found, and CI must run this test: "
                        ".ci/run installs the Debian package postgresql")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine; install the postgresql "
                    "package (or set MMIB_PG_BIN) to run the shared-study test against a real server")
    root = Path(tempfile.mkdtemp(prefix="mmib-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", _free_port()
    run = (lambda *cmd: subprocess.run(as_user + [str(c) for c in cmd], check=True, capture_output=True,
                                       text=True, timeout=120))
    try:
        run(bin_dir / "initdb", "-D", data, "-U", "mmib", "--auth=trust", "-E", "UTF8")
        run(bin_dir / "pg_ctl", "-D", data, "-o", f"-h 127.0.0.1 -p {port} -k {root}", "-l", root / "server.log",
            "-w", "start")
    except subprocess.CalledProcessError as e:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"the test PostgreSQL server did not start: {e.stderr or e.stdout}{log}") from None
    try:
        yield f"postgresql://mmib@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
