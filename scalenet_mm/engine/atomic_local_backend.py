"""mmengine's local file backend with crash-safe writes: a reader sees the old file or the whole new one.

mmengine's ``LocalBackend.put`` opens the target itself (``open(path, 'wb')``) and never fsyncs, so a process
killed mid-write, or a node that loses power, leaves a truncated checkpoint under the real name.
:class:`AtomicLocalBackend` writes to a hidden temporary file in the same folder
(``.{name}.partial-{pid}``, a name no resume ever picks), flushes and fsyncs it, renames it over the target
(``os.replace``, atomic on POSIX) and fsyncs the folder, so the rename itself survives a crash. A failed write
(a full disk, say) removes the temporary file and leaves the previous file as it was.

Registered with mmengine as ``scalenet_mm_atomic_local``: ``get_file_backend(path,
backend_args=dict(backend='scalenet_mm_atomic_local'))``. :class:`scalenet_mm.CrashSafeCheckpointHook` saves
every checkpoint and ``last_checkpoint`` through it.
"""
import errno
import os
import os.path as osp
import re
from pathlib import Path
from typing import Union

from mmengine.fileio.backends import LocalBackend, register_backend

BACKEND_NAME = 'scalenet_mm_atomic_local'
PARTIAL_FILE = re.compile(r'^\.(?P<target>.+)\.partial-(?P<pid>\d+)$')


def partial_path(filepath: str) -> str:
    """The temporary file that :func:`write_atomically` fills before renaming it to ``filepath``."""
    folder, name = osp.split(filepath)
    return osp.join(folder, f'.{name}.partial-{os.getpid()}')


def fsync_folder(folder: str) -> None:
    """Make the folder's entries (a rename, a new or removed file) durable."""
    descriptor = os.open(folder or '.', os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(data: bytes, filepath: str) -> None:
    """Write ``data`` to ``filepath`` so that the file is either as before or holds all of ``data``.

    Raises ``OSError`` with the target, the size and what is left intact when the write fails; ``ENOSPC`` (a
    full disk) keeps its errno so callers can tell it apart.
    """
    folder = osp.dirname(filepath)
    os.makedirs(folder or '.', exist_ok=True)
    partial = partial_path(filepath)
    try:
        with open(partial, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, filepath)
    except OSError as error:
        if osp.exists(partial):
            os.remove(partial)
        what = 'no space left on device' if error.errno == errno.ENOSPC else (error.strerror or str(error))
        kept = 'the previous file is intact' if osp.exists(filepath) else 'no file was written'
        raise OSError(error.errno, f'could not write {filepath} ({len(data)} bytes): {what}; {kept}, and no '
                                   f'partial file was left behind') from error
    fsync_folder(folder)


def remove_durably(filepath: str) -> None:
    """Remove a file and make the removal durable (fsync of its folder)."""
    os.remove(filepath)
    fsync_folder(osp.dirname(filepath))


def leftover_partial_files(folder: str) -> list[str]:
    """Temporary files of writes that a killed process never finished, in ``folder``."""
    if not osp.isdir(folder):
        return []
    return sorted(osp.join(folder, name) for name in os.listdir(folder) if PARTIAL_FILE.match(name))


@register_backend(BACKEND_NAME)
class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` whose ``put``/``put_text`` write atomically and durably, and whose
    ``remove`` is durable; reads are the local backend's."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, str(filepath))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), str(filepath))

    def remove(self, filepath: Union[str, Path]) -> None:
        remove_durably(str(filepath))
