"""Where a shared study lives: Optuna's storages, named by one ``--storage`` string.

The storage is the only coordination point between workers: every process that runs the same
``mmib sweep`` / ``mmib paper`` / ``mmib tune`` command with the same ``--storage`` and study
name takes the next trial from it, so nothing else has to run beside it.

- ``sqlite:///PATH.db`` or a path ending in ``.db`` / ``.sqlite``: an SQLite file (one machine,
  zero set-up; the default of ``mmib tune``).
- ``journal:PATH`` or a path ending in ``.log`` / ``.jsonl``: Optuna's journal file (one
  machine or a shared file system with working file locks).
- Any other SQLAlchemy URL (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``): a
  database server, for many machines.

SQLite and database storages send a heartbeat for each running trial; a trial whose worker stopped
(kill -9, a lost machine) is marked failed after the grace period and put back in the queue
with the same parameters (:class:`optuna.storages.RetryFailedTrialCallback`), so another
worker picks it up and resumes its run folder.

Optuna, SQLAlchemy and psycopg2 are the optional extra ``mmib[tune]``, imported here only.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from pathlib import Path
from typing import Any

HEARTBEAT_S = int(os.environ.get("MMIB_HEARTBEAT_S", "30"))
"""Seconds between a running trial's heartbeats (SQLite and database storages;
``MMIB_HEARTBEAT_S`` changes it, e.g. to rehearse a lost worker in seconds)."""
GRACE_S = int(os.environ.get("MMIB_GRACE_S", "90"))
"""Seconds without a heartbeat after which a trial counts as stopped and is retried (``MMIB_GRACE_S``)."""
MAX_RETRY = 3
"""How many times one trial is put back after its worker stopped."""


def optuna_module() -> Any:
    """``optuna``, or a clear error naming the extra to install."""
    try:
        import optuna
    except ImportError:
        raise ImportError("shared studies need Optuna: install mmib[tune] (pip install 'mmib[tune]')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and retries are marked experimental in Optuna; they are what shared studies rely on
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def describe_url(url: str) -> str:
    """The storage without its password (for logs)."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return url


def kind(url: str) -> str:
    """sqlite, journal or database (a server URL)."""
    text = url.strip()
    if text.startswith("sqlite:"):
        return "sqlite"
    if text.startswith("journal:") or text.endswith((".log", ".jsonl")):
        return "journal"
    if "://" in text:
        return "database"
    if text.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite"
    raise ValueError(f"--storage {url!r}: expected sqlite:///FILE.db, FILE.db, journal:FILE.log, FILE.log or a "
                     "database URL such as postgresql://user@host/db")


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy reads: a bare ``FILE.db`` becomes ``sqlite:///FILE.db``; a plain
    ``postgresql://`` URL names the driver mmib[tune] ships (psycopg2; SQLAlchemy 2.1's own
    default for the scheme is psycopg 3)."""
    if kind(url) == "sqlite" and not url.startswith("sqlite:"):
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def open_storage(url: str, *, heartbeat: bool = True) -> Any:
    """The Optuna storage for ``url`` (see the module docstring). ``heartbeat``: running
    trials send heartbeats, and stopped ones are retried with their parameters."""
    optuna = optuna_module()
    k = kind(url)
    beats: dict[str, Any] = {}
    if heartbeat:
        params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
        name = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params \
            else "failed_trial_callback"  # the name before Optuna 4.9
        beats = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S,
                 name: getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback",
                               optuna.storages.RetryFailedTrialCallback)(max_retry=MAX_RETRY)}
    if k == "journal":
        path = Path(url.removeprefix("journal:")).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    full = sqlalchemy_url(url)
    if k == "sqlite":
        Path(full[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        for attempt in range(5):
            try:
                return optuna.storages.RDBStorage(full, engine_kwargs={"pool_pre_ping": True}, **beats)
            except Exception as e:  # workers starting together on a fresh database race to create its tables
                if "IntegrityError" not in type(e).__name__ or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except ImportError as e:
        raise ImportError(f"--storage {describe_url(url)}: the database driver is missing ({e}); install "
                          "mmib[tune] (PostgreSQL: psycopg2-binary) or the driver your URL names") from None
    except Exception as e:  # noqa: BLE001  SQLAlchemy's OperationalError and friends: one line naming the storage
        raise RuntimeError(f"--storage {describe_url(url)}: cannot open the storage "
                           f"({type(e).__name__}: {str(e).strip().splitlines()[0]})") from None


def study_names(url: str) -> list[str]:
    """The names of the studies in a storage."""
    optuna = optuna_module()
    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(url, heartbeat=False))]


def load_study(url: str, name: str) -> Any:
    """An existing study, or an error listing the studies the storage holds."""
    optuna = optuna_module()
    storage = open_storage(url, heartbeat=False)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        raise KeyError(f"--study {name!r}: no such study in {describe_url(url)}; it holds "
                       f"{', '.join(names) if names else 'no study yet'}")
    return optuna.load_study(study_name=name, storage=storage)


__all__ = ["GRACE_S", "HEARTBEAT_S", "MAX_RETRY", "describe_url", "kind", "load_study", "open_storage",
           "optuna_module", "sqlalchemy_url", "study_names"]
