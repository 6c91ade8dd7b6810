"""Which file a delta checkpoint was grown from: its path, size and SHA-256, and the check that a file is it."""
import hashlib
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Any, Mapping

CHUNK = 1 << 20


def sha256_of(path: str) -> str:
    """The SHA-256 of the file at ``path`` (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class BaseIdentity:
    """A base file as a delta checkpoint records it: where it was (absolute path), its size in bytes and its
    SHA-256. The hash decides; the path is where to look first."""
    path: str
    size: int
    sha256: str

    @classmethod
    def of_file(cls, path: str) -> 'BaseIdentity':
        """The identity of the local file at ``path`` (hashes the whole file)."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'base file {path!r} does not exist; a delta checkpoint records the local file '
                                    "its backbone is grown from (init_cfg.checkpoint), so it must be a local file")
        return cls(osp.abspath(path), osp.getsize(path), sha256_of(path))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> 'BaseIdentity':
        """The identity stored by :meth:`as_meta`."""
        return cls(str(meta['path']), int(meta['size']), str(meta['sha256']))

    def as_meta(self) -> dict[str, Any]:
        """Plain types only, so a checkpoint holding it loads under torch's safe loading."""
        return asdict(self)

    def check(self, path: str, checkpoint: str) -> None:
        """Raise unless the file at ``path`` is this base (same size and SHA-256); ``checkpoint`` names the delta
        checkpoint in the message."""
        moved = '' if osp.abspath(path) == self.path else f' (instead of the recorded {self.path})'
        hint = ('Point the delta at a copy of the base it was trained from: --delta-base PATH in our tools, or '
                'default_hooks.checkpoint.delta_base=PATH')
        if not osp.isfile(path):
            raise FileNotFoundError(f'delta checkpoint {checkpoint!r} needs its base file {path!r}{moved}, which does '
                                    f'not exist (sha256 {self.sha256}, {self.size} bytes). {hint}.')
        size, found = osp.getsize(path), sha256_of(path)
        if (size, found) != (self.size, self.sha256):
            raise ValueError(f'delta checkpoint {checkpoint!r} was trained from a different base file: {path}{moved} '
                             f'has sha256 {found} ({size} bytes), expected sha256 {self.sha256} ({self.size} bytes). '
                             f'Its frozen weights would not be the ones the delta was trained with. {hint}.')
