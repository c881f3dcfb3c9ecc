"""`download_url` / `untar_data` against a local HTTP server on 127.0.0.1 (no network): archives made here."""

import hashlib
import io
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from datablock import download_url, tiers_home, untar_data


def _tar(files: dict[str, bytes], top: str | None = "pets") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


FILES = {"a.txt": b"alpha", "sub/b.txt": b"beta" * 1000}
ARCHIVES = {
    "/pets.tgz": _tar(FILES),
    "/flat.zip": _zip(FILES),
    "/corrupt.tgz": _tar(FILES)[:-200] + b"\0" * 50,
    "/evil.tgz": _tar({"../../escaped.txt": b"x"}, top=None),
}


class Handler(BaseHTTPRequestHandler):
    """Serves ARCHIVES with range requests; `/drop/<name>` promises the whole file but sends half, then closes."""

    requests: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        Handler.requests.append((self.path, self.headers.get("Range")))
        drop = self.path.startswith("/drop/")
        data = ARCHIVES.get(self.path.removeprefix("/drop") if drop else self.path)
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(data):
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        self.wfile.write(body[: len(body) // 2] if drop and not rng else body)
        self.wfile.flush()
        if drop and not rng:
            self.close_connection = True


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_untar_into_the_cache_with_checksum(server, home):
    assert tiers_home() == home
    path = untar_data(f"{server}/pets.tgz", checksum=sha(ARCHIVES["/pets.tgz"]), show_progress=False)
    assert path == home / "data" / "pets"
    assert (path / "a.txt").read_bytes() == b"alpha" and (path / "sub" / "b.txt").read_bytes() == b"beta" * 1000
    assert (home / "archive" / "pets.tgz").read_bytes() == ARCHIVES["/pets.tgz"]
    n = len(Handler.requests)
    assert untar_data(f"{server}/pets.tgz", show_progress=False) == path  # cached: no new request
    assert len(Handler.requests) == n
    assert [p.name for p in (home / "data").iterdir()] == ["pets"]  # no temporary folders left


def test_zip_and_explicit_places(server, tmp_path):
    path = untar_data(f"{server}/flat.zip", fname=tmp_path / "f.zip", dest=tmp_path / "out", show_progress=False)
    assert path == tmp_path / "out" and sorted(p.name for p in path.iterdir()) == ["a.txt", "sub"]


def test_wrong_checksum_leaves_nothing(server, home):
    with pytest.raises(ValueError, match=r"expected 0{64}"):
        download_url(f"{server}/pets.tgz", checksum="0" * 64, show_progress=False)
    assert not (home / "archive").exists() or list((home / "archive").iterdir()) == []
    with pytest.raises(ValueError, match="64 hex digits"):
        download_url(f"{server}/pets.tgz", checksum="abc")


def test_corrupt_archive_leaves_nothing(server, home):
    with pytest.raises(ValueError, match="not a readable archive"):
        untar_data(f"{server}/corrupt.tgz", show_progress=False)
    assert not (home / "data" / "corrupt").exists()
    assert list((home / "data").iterdir()) == [] and not (home / "archive" / "corrupt.tgz").exists()


def test_archive_members_outside_the_destination_are_refused(server, home, tmp_path):
    with pytest.raises(ValueError, match="outside the destination"):
        untar_data(f"{server}/evil.tgz", show_progress=False)
    assert not (home / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_interrupted_download_resumes(server, home):
    url = f"{server}/drop/pets.tgz"
    with pytest.raises(Exception):  # noqa: B017 - the connection closes early (the error type is urllib's)
        download_url(url, show_progress=False)
    part = home / "archive" / "pets.tgz.part"
    assert part.exists() and not (home / "archive" / "pets.tgz").exists()  # dest never half-written
    half = part.stat().st_size
    assert 0 < half < len(ARCHIVES["/pets.tgz"])
    Handler.requests.clear()
    path = download_url(url, checksum=sha(ARCHIVES["/pets.tgz"]), show_progress=False)
    assert Handler.requests == [("/drop/pets.tgz", f"bytes={half}-")]  # only the rest was asked for
    assert path.read_bytes() == ARCHIVES["/pets.tgz"] and not part.exists()


def test_progress_falls_back_to_plain_lines_without_fastprogress(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastprogress", None)  # as if the optional extra were not installed
    monkeypatch.setitem(sys.modules, "fastprogress.fastprogress", None)
    download_url(f"{server}/pets.tgz", dest=tmp_path / "p.tgz")
    err = capsys.readouterr().err
    assert (tmp_path / "p.tgz").exists() and f"pets.tgz: 100% of {len(ARCHIVES['/pets.tgz']):,} bytes" in err
