"""One attempt at a unit of work that writes files (an ingest, a harmonization, a rebuild).

An attempt owns a scratch folder and names every file it will publish with a token of its own,
so two attempts never write the same path. Before a file is moved into the table store, the
attempt *announces* it (for a background job: in the job's row); if the process dies before
the database points to the file, whoever reclaims the job removes exactly the announced files
no row points to, and nothing of another attempt.

``checkpoint(phase)`` marks the phases of the work (reading, typing, writing, publishing).
The test-only setting ``ALLMENDE_PAUSE_AT=<phase>`` stops an attempt there, so tests can kill
a worker at a chosen phase; the attempt then writes ``tmp/paused-<phase>-<pid>`` (the pid of
the process running the job, a worker's child when jobs run isolated).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allmende.tables import store

Announce = Callable[[list[str]], None]
Guard = Callable[[Any], None]
#: How long a paused attempt waits for the test to kill it.
PAUSE_SECONDS = 600.0


def _nothing(_value: Any) -> None:
    return None


@dataclass
class Attempt:
    data_dir: Path
    announce: Announce = _nothing
    pause_at: str | None = None
    #: Called inside the publishing transaction; raises when the attempt may no longer
    #: publish (its job was reclaimed by another worker).
    guard: Guard = _nothing
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    _scratch: Path | None = None

    @property
    def scratch(self) -> Path:
        """The attempt's private working folder (created on first use, announced, named after
        host and process so a sweep can tell whether its owner still lives)."""
        if self._scratch is None:
            root = store.scratch_root(self.data_dir)
            root.mkdir(parents=True, exist_ok=True)
            folder = store.scratch_folder(self.data_dir, self.token)
            self.announce([str(folder.relative_to(self.data_dir))])
            folder.mkdir()
            self._scratch = folder
        return self._scratch

    def output(self, resource_id: str, kind: str) -> str:
        """A path (relative to the data directory) for a file this attempt will publish for a
        resource, announced before anything is written there."""
        relative = store.attempt_path(resource_id, kind, self.token)
        self.announce([relative])
        return relative

    def checkpoint(self, phase: str) -> None:
        if self.pause_at != phase:
            return
        marker = store.scratch_root(self.data_dir) / f"paused-{phase}-{os.getpid()}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(self.token)
        time.sleep(PAUSE_SECONDS)

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
