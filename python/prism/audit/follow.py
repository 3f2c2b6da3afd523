"""FileFollower: reads an audit file like `tail -F`, in batches of complete lines, across
the core's rotation (`<path>` renamed to `<path>.1`, older ones shifted up, a new
`<path>` created; with `keep: 0` the old file is deleted instead).

The follower holds the file open, so a renamed or deleted file is still read to its end.
The writer flushes before it renames, so once `<path>` names another file, what the old
one holds is all it will ever hold: the follower finishes it, then moves to its
successor. The successor is found by position in the rotation chain (`<path>.N` ...
`<path>.1`, `<path>`, oldest first), not by name: if the file rotated twice while a
batch was in flight, the file in between is shipped too.

Only lines ending in a newline are handed out (the last line may still be being
written). Positions are committed by the caller once Kafka acknowledged a batch; they go
to the checkpoint (see `checkpoint`), from which a restart resumes.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from prism.audit import checkpoint
from prism.audit.checkpoint import Position

log = logging.getLogger(__name__)

#: A rotation renames files one at a time; a listing that changed under us is retried.
_LIST_ATTEMPTS = 20
_LIST_RETRY_S = 0.005


@dataclass(frozen=True)
class Batch:
    """Complete lines (without their newline) read from one file; `end` is the position
    just after the last one."""

    lines: list[bytes]
    end: Position


@dataclass(frozen=True)
class _Entry:
    fd: int
    inode: int
    size: int
    live: bool  # named <path> (not a rotated <path>.N)


class FileFollower:
    """Follows one audit file; not thread-safe (one shipper task drives it)."""

    def __init__(self, path: Path, *, use_checkpoint: bool = True) -> None:
        self.path = Path(path)
        self.checkpoint_path = checkpoint.path_for(self.path) if use_checkpoint else None
        self._fd: int | None = None
        self._inode = 0
        self._offset = 0  # everything before it is acknowledged (committed)
        self._head = ""  # checkpoint.head_of() the open file, once it is full size
        self._pending = False

    # -- reading -----------------------------------------------------------------------

    def read_batch(self, max_lines: int, max_bytes: int) -> Batch | None:
        """The next complete lines after the committed position, or None when there are
        none yet. Call `commit` or `rewind` before the next call."""
        if self._pending:
            raise RuntimeError("commit or rewind the previous batch first")
        if not self.open():
            return None
        # At most one switch per call: a successor that is itself finished is taken on
        # the next call.
        for _ in range(2):
            batch = self._read(max_lines, max_bytes)
            if batch is not None:
                self._pending = True
                return batch
            successor = self._successor()
            if successor is None:
                return None
            # Rotated away: the writer flushed before renaming, so this read is final.
            batch = self._read(max_lines, max_bytes)
            if batch is not None:
                os.close(successor.fd)
                self._pending = True
                return batch
            self._switch(successor)
        return None

    def open(self) -> bool:
        """Take the starting position now, if not taken yet: the checkpoint's, else the
        start of the live file (recorded at once, so that lines written from here on
        are shipped even if this run never reaches Kafka). False while there is no file."""
        return self._fd is not None or self._open_initial()

    def commit(self, end: Position) -> None:
        """Kafka has every line up to `end`: advance and store the checkpoint."""
        if end.inode != self._inode:
            raise RuntimeError("commit of a position in another file")
        self._offset = end.offset
        self._pending = False
        self._store(end)

    def rewind(self) -> None:
        """The batch was not acknowledged: the next read starts at the committed position."""
        self._pending = False

    def backlog_bytes(self) -> int:
        """Bytes written but not yet acknowledged: the rest of the open file and every
        newer file in the chain."""
        if self._fd is None:
            return sum(e.size for e in self._chain(close=True))
        behind = max(os.fstat(self._fd).st_size - self._offset, 0)
        if self._is_live():
            return behind
        chain = self._chain(close=True)
        inodes = [e.inode for e in chain]
        newer = chain[inodes.index(self._inode) + 1 :] if self._inode in inodes else chain
        return behind + sum(e.size for e in newer)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- internals ---------------------------------------------------------------------

    def _read(self, max_lines: int, max_bytes: int) -> Batch | None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size < self._offset:
            # Truncated in place (copytruncate): start over in the same file.
            log.warning("audit shipper: %s was truncated; reading it from the start", self.path)
            self._offset, self._head = 0, ""
        want = max_bytes
        data = os.pread(self._fd, want, self._offset)
        cut = data.rfind(b"\n")
        while cut < 0 and len(data) == want:
            # One line longer than max_bytes: read until its newline.
            want *= 2
            data = os.pread(self._fd, want, self._offset)
            cut = data.rfind(b"\n")
        if cut < 0:
            return None
        lines: list[bytes] = []
        end = self._offset
        for line in data[: cut + 1].split(b"\n")[:-1]:
            if len(lines) == max_lines:
                break
            end += len(line) + 1
            if line.strip():  # a blank line is no record
                lines.append(line)
        return Batch(lines, Position(self._inode, end, self._head_at(end)))

    def _head_at(self, end: int) -> str:
        assert self._fd is not None
        if self._head:
            return self._head
        head = checkpoint.head_of(self._fd, end)
        if end >= checkpoint.HEAD_BYTES:
            self._head = head  # full size: the same for every later position
        return head

    def _is_live(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self._inode
        except FileNotFoundError:
            return False

    def _successor(self) -> _Entry | None:
        """The file written after the open one, opened, once the open one is rotated."""
        if self._is_live():
            return None
        chain = self._chain()
        inodes = [e.inode for e in chain]
        if self._inode in inodes:
            at = inodes.index(self._inode)
            nxt = chain[at + 1] if at + 1 < len(chain) else None
        else:
            # Deleted: keep 0, or it fell off the end of the chain while being read.
            nxt = chain[0] if chain else None
            if len(chain) > 1:
                log.warning(
                    "audit shipper: a file of %s rotated out while being shipped; files "
                    "rotated out with it are missing from Kafka (raise keep or max_bytes)",
                    self.path,
                )
        for e in chain:
            if e is not nxt:
                os.close(e.fd)
        return nxt

    def _switch(self, successor: _Entry) -> None:
        assert self._fd is not None
        left = os.fstat(self._fd).st_size - self._offset
        if left > 0:
            log.warning(
                "audit shipper: skipping the incomplete last line (%d bytes) of a rotated "
                "file of %s",
                left,
                self.path,
            )
        os.close(self._fd)
        self._fd, self._inode, self._offset, self._head = successor.fd, successor.inode, 0, ""
        # Everything before this file is acknowledged (batches are committed in order).
        self._store(Position(self._inode, 0, ""))

    def _open_initial(self) -> bool:
        """Resume from the checkpoint, else start at the beginning of the live file."""
        saved = checkpoint.load(self.checkpoint_path) if self.checkpoint_path else None
        chain = self._chain()
        chosen: _Entry | None = None
        offset = 0
        if saved is not None:
            for e in chain:
                if e.inode == saved.inode and saved.offset <= e.size:
                    if checkpoint.head_matches(e.fd, saved.head):
                        chosen, offset = e, saved.offset
                    break
            if chosen is None and chain:
                # The checkpointed file is gone: every file still there is newer.
                log.warning(
                    "audit shipper: the checkpointed file of %s is gone; shipping from the "
                    "oldest kept file",
                    self.path,
                )
                chosen = chain[0]
        else:
            chosen = next((e for e in chain if e.live), None)
        for e in chain:
            if e is not chosen:
                os.close(e.fd)
        if chosen is None:
            return False
        self._fd, self._inode, self._offset, self._head = chosen.fd, chosen.inode, offset, ""
        if saved is None or (saved.inode, saved.offset) != (chosen.inode, offset):
            self._store(Position(self._inode, offset, checkpoint.head_of(chosen.fd, offset)))
        return True

    def _chain(self, *, close: bool = False) -> list[_Entry]:
        """The audit files, oldest first, each opened; listed until two listings agree."""
        current = self._list()
        for _ in range(_LIST_ATTEMPTS):
            again = self._list()
            stable = [e.inode for e in again] == [e.inode for e in current]
            for e in current:
                os.close(e.fd)
            current = again
            if stable:
                break
            time.sleep(_LIST_RETRY_S)
        if close:
            for e in current:
                os.close(e.fd)
        return current

    def _list(self) -> list[_Entry]:
        directory = self.path.parent
        base = self.path.name
        numbered: list[tuple[int, str]] = []
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        for name in names:
            suffix = name[len(base) + 1 :]
            if name.startswith(base + ".") and suffix.isdigit():
                numbered.append((int(suffix), name))
        ordered = [name for _n, name in sorted(numbered, reverse=True)]
        if base in names:
            ordered.append(base)
        out: list[_Entry] = []
        seen: set[int] = set()
        for name in ordered:
            try:
                fd = os.open(directory / name, os.O_RDONLY)
            except FileNotFoundError:
                continue  # renamed or removed since the listing
            st = os.fstat(fd)
            if st.st_ino in seen:
                os.close(fd)
                continue
            seen.add(st.st_ino)
            out.append(_Entry(fd, st.st_ino, st.st_size, name == base))
        return out

    def _store(self, position: Position) -> None:
        if self.checkpoint_path is None:
            return
        try:
            checkpoint.store(self.checkpoint_path, position)
        except OSError as err:
            # Not fatal: a restart then resumes earlier (duplicates, never a gap).
            log.warning("audit shipper: cannot write %s: %s", self.checkpoint_path, err)
