import importlib.util
import io
import os
import sys

import pytest

from datablock import parallel_gen, parallel_map


def _square(x):
    return x * x


class _CountingWorker:
    """A stateful worker: set up once per process; tags each result with the process id."""

    def __init__(self):
        self.pid = os.getpid()

    def __call__(self, chunk):
        return [(x + 1, self.pid) for x in chunk]


@pytest.mark.parametrize("n_workers", [0, 2])
def test_parallel_map_matches_serial(n_workers):
    items = list(range(37))
    assert parallel_map(_square, items, n_workers=n_workers, chunksize=4, progress=False) == [x * x for x in items]


def test_parallel_map_threads_and_progress(capsys):
    assert parallel_map(_square, range(5), n_workers=2, threads=True, progress=True) == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="n_workers must be >= 0"):
        parallel_map(_square, [1, 2], n_workers=-1)


@pytest.mark.parametrize("n_workers", [0, 2])
def test_parallel_gen_stateful_workers(n_workers):
    items = list(range(50))
    out = list(parallel_gen(_CountingWorker, items, n_workers=n_workers, chunksize=7, progress=False))
    assert [r for r, _ in out] == [x + 1 for x in items]
    pids = {pid for _, pid in out}
    if n_workers == 0:
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids and 1 <= len(pids) <= 2  # set up once per worker process


def test_parallel_gen_checks_result_count():
    with pytest.raises(ValueError, match="returned 1 results for a chunk of 3"):
        list(parallel_gen(lambda: lambda chunk: [0], [1, 2, 3], n_workers=0, chunksize=3, progress=False))


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("installed", [False, True] if importlib.util.find_spec("fastprogress") else [False])
def test_progress_with_and_without_fastprogress(installed, monkeypatch):
    """Without the `progress` extra the bar is a plain-text counter, drawn only on a terminal."""
    if not installed:
        for name in ("fastprogress", "fastprogress.fastprogress"):
            monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    tty, log = _Tty(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", tty)
    assert parallel_map(_square, range(6), n_workers=0, progress=True) == [x * x for x in range(6)]
    out = list(parallel_gen(_CountingWorker, list(range(10)), n_workers=0, chunksize=5, progress=True))
    assert [x for x, _ in out] == list(range(1, 11))
    if not installed:
        assert "\r6/6 (100%)" in tty.getvalue() and "\r2/2 (100%)" in tty.getvalue()
        assert tty.getvalue().endswith("\r")  # the counter is wiped at the end
    monkeypatch.setattr(sys, "stdout", log)
    assert parallel_map(_square, range(6), n_workers=0, progress=True) == [x * x for x in range(6)]
    if not installed:
        assert log.getvalue() == ""  # a log or a pipe gets no counter


def test_parallel_gen_streams_with_bounded_chunks_in_flight():
    read = []

    def items():  # a generator (no len): read lazily
        for i in range(1000):
            read.append(i)
            yield i

    gen = parallel_gen(_CountingWorker, items(), n_workers=2, chunksize=10, progress=False)
    first = next(gen)
    assert first[0] == 1 and len(read) <= 10 * (2 * 2 + 1)  # at most two chunks per worker (plus one) read ahead
    rest = list(gen)
    assert [r[0] for r in [first, *rest]] == list(range(1, 1001)) and len(read) == 1000


@pytest.mark.parametrize("n_workers", [0, 2])
def test_parallel_gen_read_ahead_stays_bounded_to_the_end(n_workers):
    # the invariant behind bounded memory: however many items, the items read but not yet yielded never exceed
    # the chunks in flight (two per worker, plus the one submitted as the oldest is collected), at every step
    read = []

    def items():
        for i in range(600):
            read.append(i)
            yield i

    ahead = 0
    for k, r in enumerate(parallel_gen(_CountingWorker, items(), n_workers=n_workers, chunksize=10, progress=False)):
        assert r[0] == k + 1  # in order
        ahead = max(ahead, len(read) - k)
    assert len(read) == 600 and 0 < ahead <= 10 * (2 * n_workers + 1)
