"""The witness: checks a node's transparency log over its public API, as any municipality (or
anyone) can, and keeps what it has seen in a state file.

1. The checkpoint must carry a valid signature of the node's key (and the key must be the one
   the state file saw).
2. With a state file: the node proves that its tree extends the one seen last (RFC 6962
   consistency proof); a smaller tree than the saved one makes the state file unusable here.
3. Every entry not seen yet is read: indexes without gaps, each leaf the canonical JSON of its
   event, and together with the saved frontier they must give the checkpoint's root. When
   they do not, an inclusion proof for each new entry names the entries that were changed,
   deleted or moved.
4. All well: the new state is saved (written beside and renamed into place).

Outcome: 0 consistent, 1 a rewrite or a bad signature (which entry or checkpoint), 2 the node
unreachable or its answers unusable, or the state file unusable (which).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import rfc8785

from allmende.transparency import merkle
from allmende.transparency.checkpoints import BadNote, Checkpoint, open_checkpoint, parse_verifier

CONSISTENT, REWRITTEN, UNUSABLE = 0, 1, 2
PAGE = 1000
#: Entries named at most when the root does not match (each costs one proof request).
MAX_NAMED = 20
STATE_VERSION = 1


class Unusable(Exception):
    """Exit 2: the node cannot be reached or read, or the state file cannot be used."""


@dataclass
class State:
    origin: str
    key: str
    size: int
    root: bytes
    frontier: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "origin": self.origin, "key": self.key,
                "size": self.size, "root": _b64(self.root),
                "frontier": [_b64(h) for h in self.frontier]}


@dataclass
class Report:
    status: int
    url: str
    message: str
    size: int | None = None
    root: str | None = None
    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"status": ("consistent", "rewritten", "unusable")[self.status],
                "url": self.url, "message": self.message, "tree_size": self.size,
                "root": self.root, "checked_entries": self.checked, "problems": self.problems}


def verify(url: str, state_file: Path | None = None,
           client: httpx.Client | None = None) -> Report:
    base = url.rstrip("/")
    if not base.endswith("/log/v1"):
        base += "/log/v1"
    try:
        saved = load_state(state_file) if state_file else None
        if client is not None:
            return Witness(client, base, url).check(saved, state_file)
        with httpx.Client(timeout=30) as http:
            return Witness(http, base, url).check(saved, state_file)
    except Unusable as error:
        return Report(UNUSABLE, url, str(error))


class Witness:
    def __init__(self, http: httpx.Client, base: str, url: str) -> None:
        self.http, self.base, self.url = http, base, url

    def check(self, saved: State | None, state_file: Path | None) -> Report:
        key = self._text("/key").strip()
        try:
            verifier = parse_verifier(key)
        except BadNote as error:
            raise Unusable(f"{self.base}/key: {error}") from None
        if saved and saved.key != key:
            return self._rewritten(f"Der Schlüssel des Protokolls ist nicht mehr der, den die "
                                   f"Zustandsdatei kennt ({saved.key}).",
                                   [{"checkpoint": None, "message": "key changed"}])
        note = self._text("/checkpoint")
        try:
            checkpoint = open_checkpoint(note, verifier)
        except BadNote as error:
            return self._rewritten(f"Checkpoint: {error}", [{"checkpoint": None,
                                                               "message": str(error)}])
        if saved:
            problem = self._consistent(saved, checkpoint)
            if problem:
                return problem
        start = saved.size if saved else 0
        frontier = list(saved.frontier) if saved else []
        problems, frontier = self._entries(start, checkpoint.size, frontier)
        checked = checkpoint.size - start
        if not problems and merkle.frontier_root(frontier) != checkpoint.root:
            problems = self._culprits(start, checkpoint)
        if problems:
            named = ", ".join(str(p["entry"]) for p in problems if p.get("entry") is not None)
            return self._rewritten(
                f"Die Einträge passen nicht zum Checkpoint der Größe {checkpoint.size}"
                + (f": Eintrag {named}." if named else "."), problems, checked)
        state = State(checkpoint.origin, key, checkpoint.size, checkpoint.root, frontier)
        if state_file:
            save_state(state_file, state)
        return Report(CONSISTENT, self.url, f"Konsistent: {checkpoint.size} Einträge, "
                      f"{checked} davon neu geprüft.", checkpoint.size, _b64(checkpoint.root),
                      checked)

    def _consistent(self, saved: State, checkpoint: Checkpoint) -> Report | None:
        if saved.origin != checkpoint.origin:
            raise Unusable(f"Die Zustandsdatei gehört zum Protokoll „{saved.origin}“, der "
                           f"Server ist „{checkpoint.origin}“.")
        if saved.size > checkpoint.size:
            raise Unusable(f"Die Zustandsdatei kennt einen längeren Baum ({saved.size} "
                           f"Einträge) als der Checkpoint des Servers ({checkpoint.size}).")
        if saved.size == 0:
            return None
        if saved.size == checkpoint.size:
            proof: list[bytes] = []
        else:
            answer = self._json(f"/proof/consistency?first={saved.size}"
                                f"&second={checkpoint.size}")
            proof = _hashes(answer, self.base)
        if merkle.verify_consistency(saved.size, checkpoint.size, saved.root,
                                     checkpoint.root, proof):
            return None
        return self._rewritten(
            f"Der Checkpoint der Größe {checkpoint.size} setzt den zuletzt gesehenen Baum "
            f"({saved.size} Einträge) nicht fort: Das Protokoll wurde umgeschrieben.",
            [{"checkpoint": checkpoint.size, "message": "not consistent with saved state"}])

    def _entries(self, start: int, size: int, frontier: list[bytes]
                 ) -> tuple[list[dict[str, Any]], list[bytes]]:
        problems: list[dict[str, Any]] = []
        expected = start
        for index, leaf, event in self._read(start, size):
            if index != expected:
                missing = range(expected, index) if index > expected else [expected]
                problems.extend({"entry": i, "message": "missing or out of order"}
                                for i in missing)
                return problems, frontier
            if rfc8785.dumps(event) != leaf:
                problems.append({"entry": index, "message": "event differs from its leaf"})
            frontier, _ = merkle.push(frontier, index, leaf)
            expected += 1
        if expected != size:
            problems.extend({"entry": i, "message": "missing"}
                            for i in range(expected, min(size, expected + MAX_NAMED)))
        return problems, frontier

    def _read(self, start: int, size: int) -> Iterator[tuple[int, bytes, Any]]:
        while start < size:
            answer = self._json(f"/entries?start={start}&end={min(size, start + PAGE)}")
            try:
                page = [(int(e["index"]), base64.b64decode(e["leaf"], validate=True),
                         e["event"]) for e in answer["entries"]]
            except (KeyError, TypeError, ValueError, binascii.Error):
                raise Unusable(f"{self.base}/entries: Antwort nicht lesbar.") from None
            if not page:
                return
            yield from page
            start = page[-1][0] + 1

    def _culprits(self, start: int, checkpoint: Checkpoint) -> list[dict[str, Any]]:
        """The new entries whose inclusion in the checkpoint's tree cannot be proven."""
        found: list[dict[str, Any]] = []
        for index, leaf, _event in self._read(start, checkpoint.size):
            answer = self._json(f"/proof/inclusion?index={index}&tree_size={checkpoint.size}")
            if not merkle.verify_inclusion(leaf, index, checkpoint.size,
                                           _hashes(answer, self.base), checkpoint.root):
                found.append({"entry": index, "message": "not included in the checkpoint"})
                if len(found) >= MAX_NAMED:
                    break
        return found or [{"checkpoint": checkpoint.size,
                          "message": "entries do not give the checkpoint's root"}]

    def _rewritten(self, message: str, problems: list[dict[str, Any]], checked: int = 0
                   ) -> Report:
        return Report(REWRITTEN, self.url, message, checked=checked, problems=problems)

    def _get(self, path: str) -> httpx.Response:
        try:
            response = self.http.get(self.base + path)
        except httpx.HTTPError as error:
            raise Unusable(f"{self.base}{path} ist nicht erreichbar: {error}") from None
        if response.status_code != 200:
            raise Unusable(f"{self.base}{path} antwortet mit {response.status_code}: "
                           f"{response.text.strip()[:200]}")
        return response

    def _text(self, path: str) -> str:
        return self._get(path).text

    def _json(self, path: str) -> Any:
        try:
            return self._get(path).json()
        except ValueError:
            raise Unusable(f"{self.base}{path}: Antwort ist kein JSON.") from None


def _hashes(answer: Any, where: str) -> list[bytes]:
    try:
        hashes = [base64.b64decode(h, validate=True) for h in answer["hashes"]]
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise Unusable(f"{where}: Beweis nicht lesbar.") from None
    if any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise Unusable(f"{where}: Beweis enthält Hashes falscher Länge.")
    return hashes


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# --- the state file ---------------------------------------------------------------------------

def load_state(path: Path) -> State | None:
    """The state saved earlier; None when the file does not exist yet (the first run)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = State(data["origin"], data["key"], int(data["size"]),
                      base64.b64decode(data["root"], validate=True),
                      [base64.b64decode(h, validate=True) for h in data["frontier"]])
        usable = (data.get("version") == STATE_VERSION and isinstance(state.origin, str)
                  and isinstance(state.key, str) and state.size >= 0
                  and len(state.frontier) == state.size.bit_count()
                  and all(len(h) == merkle.HASH_SIZE for h in state.frontier)
                  and merkle.frontier_root(state.frontier) == state.root)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, binascii.Error,
            AttributeError):
        usable = False
    if not usable:
        raise Unusable(f"Die Zustandsdatei {path} ist nicht lesbar oder beschädigt.")
    return state


def save_state(path: Path, state: State) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps(state.as_json(), indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise Unusable(f"Die Zustandsdatei {path} lässt sich nicht schreiben: "
                       f"{error.strerror or error}.") from None
