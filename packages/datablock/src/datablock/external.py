"""Data access: `download_url` and `untar_data`, with a cache directory, sha256 checks and atomic results.

Nothing here runs unless called. Files go under `tiers_home()` (`$TIERS_HOME`, default `~/.tiers`):
archives in `archive/`, extracted data in `data/`. A download is written to `<dest>.part` and renamed into
place only once complete and checked, so `dest` is never half-written; a later call resumes a `.part` file
(an HTTP range request) when the server supports it. An archive is extracted into a temporary folder
beside its destination and renamed into place, so a bad archive leaves nothing behind; `write_folder_once`
does the same for a folder any code writes (the data sets the applications generate on first use).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlparse

__all__ = ["tiers_home", "write_folder_once", "download_url", "untar_data", "file_sha256"]

CHUNK = 1 << 20


def tiers_home() -> Path:
    """The cache directory: `$TIERS_HOME`, or `~/.tiers`."""
    env = os.environ.get("TIERS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".tiers"


def write_folder_once(dest: str | os.PathLike[str], fill: Callable[[Path], object], marker: str | None = None) -> Path:
    """Make the folder `dest` once, atomically, and return it: `fill(tmp)` writes a fresh temporary folder beside
    `dest`, which is then renamed to `dest`, so `dest` never appears half-written (a `fill` that raises leaves
    nothing behind) and a generated data set is made on first use, then reused.

    `dest` counts as complete when it exists, or with `marker` (a path inside it, e.g. `"texts.csv"`) when
    `dest/marker` exists: a complete `dest` is returned as it is, without calling `fill`. With `marker`, `fill`
    must write it (else `ValueError`), and an incomplete `dest` that is not empty is refused (`FileExistsError`),
    never overwritten. Another process finishing the same folder first is fine: its folder is kept.
    """
    dest = Path(dest)

    def complete() -> bool:
        return (dest / marker).exists() if marker is not None else dest.exists()

    if complete():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        fill(tmp)
        if marker is not None and not (tmp / marker).exists():
            raise ValueError(f"write_folder_once: fill wrote no {marker!r} into the folder for {dest}")
        try:
            os.replace(tmp, dest)
        except OSError as e:
            if complete():  # another process finished first: keep its folder
                return dest
            if marker is not None and dest.is_dir():
                raise FileExistsError(
                    f"write_folder_once: {dest} exists without {marker!r} (an incomplete folder, not written "
                    "here); remove it to have it written again"
                ) from e
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _expected(checksum: str | None) -> str | None:
    if checksum is None:
        return None
    value = checksum.removeprefix("sha256:").strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(
            f"checksum must be a sha256 hex digest (64 hex digits, optionally 'sha256:'), got {checksum!r}"
        )
    return value


def _name_of(url: str) -> str:
    name = Path(urlparse(url).path).name
    if not name:
        raise ValueError(f"download_url: cannot name the file of {url!r}; pass dest=")
    return name


def _progress(total: int | None, show: bool, label: str) -> Callable[[int], None]:
    """A callback taking the bytes done so far: fastprogress's bar when installed, else a line per 10%."""
    if not show:
        return lambda _done: None
    try:
        from fastprogress.fastprogress import progress_bar
    except ImportError:
        progress_bar = None
    if progress_bar is not None and total:
        bar = progress_bar(range(total), total=total, leave=False)
        bar.comment = label
        bar.update(0)  # fastprogress starts its clock at 0
        return lambda done: bar.update(min(done, total))
    step = {"next": 0.1}

    def plain(done: int) -> None:
        if total and done / total >= step["next"]:
            print(f"{label}: {done / total:.0%} of {total:,} bytes", file=sys.stderr, flush=True)
            step["next"] = done / total + 0.1

    return plain


def _fetch(url: str, part: Path, timeout: float, show_progress: bool) -> None:
    """Download `url` into `part`, continuing a partial file where the server honours a range request."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part file is complete
            return
        raise
    with resp:
        resumed = have and resp.status == 206
        if not resumed:
            have = 0  # the server sent the whole file: start over
        size = resp.headers.get("Content-Length")
        total = have + int(size) if size is not None else None
        report = _progress(total, show_progress, _name_of(url))
        with open(part, "ab" if resumed else "wb") as f:
            done = have
            for block in iter(lambda: resp.read(CHUNK), b""):
                f.write(block)
                done += len(block)
                report(done)
    if total is not None and part.stat().st_size != total:
        raise OSError(
            f"download_url: {url} ended after {part.stat().st_size:,} of {total:,} bytes; call again to resume"
        )


def download_url(
    url: str,
    dest: str | os.PathLike[str] | None = None,
    checksum: str | None = None,
    show_progress: bool = True,
    timeout: float = 30.0,
    force_download: bool = False,
) -> Path:
    """Download `url` to `dest` (default: `tiers_home()/archive/<file name>`) and return its path.

    An existing `dest` is reused (when it matches `checksum`, if given). With `checksum` (sha256 hex) the
    download is checked before it is moved into place; a mismatch removes it and raises `ValueError`.
    An interrupted download leaves `<dest>.part`, which the next call resumes.
    """
    expected = _expected(checksum)
    dest = Path(dest) if dest is not None else tiers_home() / "archive" / _name_of(url)
    if dest.exists() and not force_download:
        if expected is None or file_sha256(dest) == expected:
            return dest
        dest.unlink()  # a stale or corrupt copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if force_download and part.exists():
        part.unlink()
    _fetch(url, part, timeout, show_progress)
    if expected is not None:
        actual = file_sha256(part)
        if actual != expected:
            part.unlink()
            raise ValueError(
                f"download_url: {url} has sha256 {actual}, expected {expected}; the download was removed "
                "(a changed or corrupted file: check the URL and the checksum)"
            )
    os.replace(part, dest)
    return dest


def _safe_tar_members(tf: tarfile.TarFile, where: Path) -> list[tarfile.TarInfo]:
    """The members of `tf`, refusing any that would land outside `where` or are devices/links out of it."""
    root = where.resolve()
    for m in tf.getmembers():
        target = (where / m.name).resolve()
        if root not in target.parents and target != root:
            raise ValueError(f"untar_data: archive member {m.name!r} would be written outside the destination")
        if m.islnk() or m.issym():
            link = (target.parent / m.linkname).resolve() if m.issym() else (where / m.linkname).resolve()
            if root not in link.parents:
                raise ValueError(f"untar_data: archive member {m.name!r} links outside the destination")
        if m.isdev():
            raise ValueError(f"untar_data: archive member {m.name!r} is a device file")
    return tf.getmembers()


def _extract(archive: Path, where: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad!r} is corrupt")
            zf.extractall(where)  # zipfile drops absolute paths and '..' itself
        return
    with tarfile.open(archive) as tf:
        members = _safe_tar_members(tf, where)
        if hasattr(tarfile, "data_filter"):
            tf.extractall(where, members=members, filter="data")
        else:  # pragma: no cover - Python without extraction filters; members were checked above
            tf.extractall(where, members=members)


def _stem(name: str) -> str:
    for ext in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".gz"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def untar_data(
    url: str,
    fname: str | os.PathLike[str] | None = None,
    dest: str | os.PathLike[str] | None = None,
    checksum: str | None = None,
    force_download: bool = False,
    show_progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download the archive at `url` (to `fname`, see `download_url`) and extract it to `dest`; return `dest`.

    `dest` defaults to `tiers_home()/data/<archive name without extension>`; an archive holding a single
    top-level folder gives that folder's contents. An existing `dest` is returned as it is (it only ever
    appears complete); `force_download` fetches and extracts again. A corrupt archive raises `ValueError`
    and is removed, with nothing extracted.
    """
    archive = download_url(url, fname, checksum, show_progress, timeout, force_download)
    dest = Path(dest) if dest is not None else tiers_home() / "data" / _stem(archive.name)
    if dest.exists() and not force_download:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            _extract(archive, tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            archive.unlink(missing_ok=True)  # a bad archive must not be reused by the next call
            raise ValueError(f"untar_data: {archive.name} is not a readable archive ({e}); it was removed") from e
        entries = list(tmp.iterdir())
        src = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        if dest.exists():
            shutil.rmtree(dest)
        try:
            os.replace(src, dest)
        except OSError:
            if not dest.exists():
                raise  # another process finishing the same extraction first is fine; anything else is not
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
