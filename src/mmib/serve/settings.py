"""The server's settings (``mmib serve`` flags), checked once at start."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, a LAN address, a name) is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # required on /v1/* when set
    no_auth: bool = False
    max_batch: int = 32  # utterances per model call
    max_wait_ms: float = 20.0  # how long a batch may wait for the utterances it expects
    max_body_mb: float = 50.0
    timeout: float = 60.0  # seconds per request (extraction included) -> 504
    extract_workers: int = 2  # clips extracted at once
    max_pending: int = 4096  # utterances queued before 503
    model_process: bool = True  # the model in a child process (serve/process.py); False: in this one

    def check(self) -> list[str]:
        """Refuses a non-loopback host without a token (unless --no-auth); returns warnings."""
        for name in ("max_batch", "max_pending", "extract_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: expected at least 1, got {getattr(self, name)}")
        if self.max_body_mb <= 0 or self.timeout <= 0 or self.max_wait_ms < 0:
            raise ValueError("--max-body-mb and --timeout must be positive and --max-wait-ms 0 or more")
        if self.token is not None and len(self.token) < 8:
            raise ValueError("--token: use at least 8 characters")
        warnings = []
        if not is_loopback(self.host) and not self.token:
            if not self.no_auth:
                raise ValueError(f"--host {self.host}: the server would be reachable from other machines; give "
                                 "--token TOKEN (or MMIB_SERVE_TOKEN) so requests must carry "
                                 "'Authorization: Bearer TOKEN', or --no-auth to serve without one")
            warnings.append(f"WARNING: serving on {self.host} WITHOUT authentication (--no-auth): anyone who can "
                            "reach this port can use the model and upload files")
        return warnings

    @property
    def max_bytes(self) -> int:
        return int(self.max_body_mb * 2**20)

    @classmethod
    def token_from_env(cls) -> str | None:
        return os.environ.get("MMIB_SERVE_TOKEN") or None


__all__ = ["Settings", "is_loopback"]
