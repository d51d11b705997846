"""Small files in a node's data directory, from the harness's side (:class:`harness.cluster.NodeFiles`).

The control channel between the harness and a running node that every
backend has: the crash nemesis writes a node's ``crash-control.json`` and
reads its ``crashes.jsonl`` (:mod:`harness.node.crashpoints`). The local and
netns backends keep each data directory on the host and use
:func:`read_in`/:func:`write_in` directly; Docker keeps it in the container
and moves the bytes with the engine's archive API (:func:`tar_one`,
:func:`untar_one`), then renames inside the container.

A write is atomic for the node: the bytes go to a temporary file in the same
directory, which is then renamed over the name, so a node reading at any
moment sees the old file or the new one. Names are plain file names: a path
separator or a leading dot is refused, so the harness can only ever touch
files directly in the data directory.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

__all__ = ["check_name", "read_in", "tar_one", "temp_name", "untar_one", "write_in"]


def check_name(name: str) -> str:
    """``name`` if it is a plain file name; ``ValueError`` otherwise."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise ValueError(f"node file {name!r}: expected a plain file name in the node's data directory")
    return name


def temp_name(name: str) -> str:
    """The temporary file a write of ``name`` goes through (same directory, renamed over it)."""
    return f".{check_name(name)}.tmp"


def read_in(data_dir: Path, name: str) -> bytes | None:
    try:
        return (data_dir / check_name(name)).read_bytes()
    except FileNotFoundError:
        return None


def write_in(data_dir: Path, name: str, data: bytes) -> None:
    tmp = data_dir / temp_name(name)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, data_dir / name)


def tar_one(name: str, data: bytes) -> bytes:
    """A tar archive holding one file ``name`` (for the engine's ``put_archive``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def untar_one(chunks: bytes) -> bytes | None:
    """The first file of a tar archive (from ``get_archive``), or None when it holds none."""
    with tarfile.open(fileobj=io.BytesIO(chunks)) as tar:
        member = tar.next()
        f = tar.extractfile(member) if member is not None else None
        return f.read() if f is not None else None
