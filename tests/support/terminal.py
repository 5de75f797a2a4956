"""A command on a pseudo-terminal, for tests of what `lake` draws on a real terminal: started,
read while it runs (`wait_for`), signalled, and its whole output kept for assertions."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\r")


def plain(text: str) -> str:
    """The text without terminal control sequences (colours, cursor moves, carriage returns)."""
    return ANSI.sub("", text)


class Terminal:
    """`command` with a pseudo-terminal as its stdin, stdout and stderr, `columns` wide."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, columns: int = 120) -> None:
        import pty

        master, slave = pty.openpty()
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40"}
        self.proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
        os.close(slave)
        self._master: int | None = master
        self.raw = ""

    def _read(self, seconds: float) -> bool:
        """Read what is there within `seconds`; False once the command closed the terminal."""
        if self._master is None:
            return False
        ready, _, _ = select.select([self._master], [], [], seconds)
        if not ready:
            return True
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            data = b""
        if not data:
            os.close(self._master)
            self._master = None
            return False
        self.raw += data.decode("utf-8", "replace")
        return True

    @property
    def screen(self) -> str:
        return plain(self.raw)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of `pattern` in everything written so far (control sequences
        removed), reading until it appears."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.screen)
            if match:
                return match
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{pattern!r} did not appear; the terminal shows:\n{self.screen[-4000:]}")

    def stop(self, signum: signal.Signals = signal.SIGINT, timeout: float = 120) -> int:
        """Send `signum`, read until the command exits; its exit code."""
        self.proc.send_signal(signum)
        deadline = time.monotonic() + timeout
        while self._read(0.2) and time.monotonic() < deadline:
            pass
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self._master is not None:
            os.close(self._master)
            self._master = None
