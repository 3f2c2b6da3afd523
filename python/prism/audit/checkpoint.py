"""The shipper's checkpoint, `<path>.kafka-offset`: where the last batch Kafka acknowledged
ends, as the inode of the file and a byte offset in it.

A small JSON object, replaced atomically (temporary file + rename) after every
acknowledged batch. `head` is a hash of the file's first bytes: inodes are reused once a
rotated file is deleted, and a new file that happens to get the same inode must not be
resumed in the middle. A lost update (a crash before the rename) only moves the
checkpoint back, which means duplicates, never a gap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".kafka-offset"
#: How many leading bytes of a file identify it alongside its inode.
HEAD_BYTES = 256


@dataclass(frozen=True)
class Position:
    """A point in one audit file: everything before `offset` is shipped."""

    inode: int
    offset: int
    head: str = ""  # head_of() the file; "" when unknown


def path_for(audit_path: Path) -> Path:
    return Path(str(audit_path) + SUFFIX)


def head_of(fd: int, offset: int) -> str:
    """The identity hash of the file open as `fd`, over its first min(offset, HEAD_BYTES)
    bytes (so a position near the start still has a head that later reads reproduce)."""
    size = min(offset, HEAD_BYTES)
    return hashlib.sha256(os.pread(fd, size, 0)).hexdigest()[:16] + f":{size}"


def head_matches(fd: int, head: str) -> bool:
    """Whether the file open as `fd` starts with the bytes `head` was taken over."""
    if not head:
        return True
    _digest, _, size = head.partition(":")
    if not size.isdigit():
        return False
    return head_of(fd, int(size)) == head


def load(path: Path) -> Position | None:
    """The stored position, or None when there is none (or it cannot be read: then the
    follower starts over, which duplicates lines but loses none)."""
    try:
        raw = json.loads(path.read_text())
        return Position(int(raw["inode"]), int(raw["offset"]), str(raw.get("head", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("audit shipper: ignoring unreadable checkpoint %s: %s", path, err)
        return None


def store(path: Path, position: Position) -> None:
    data = json.dumps({"inode": position.inode, "offset": position.offset, "head": position.head})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(data + "\n")
    os.replace(tmp, path)
