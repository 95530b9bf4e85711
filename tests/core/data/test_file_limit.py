"""The per-file time limit of preparation (``data.file_timeout_s``): a file that does not finish is
reported by name and skipped, the others are prepared, in-process (the alarm interrupts the parse) and in
a worker pool (a worker that cannot be interrupted is killed and replaced). The slow file is the drill of
core.data.file_limit: its preparation sleeps 60 s, far beyond the 1 s limit, so a limit that does not
really interrupt it leaves the file without an error."""

from __future__ import annotations

import pytest

from core.config import ConfigError, DataConfig
from core.data.file_limit import SLOW_FILE_ENV
from core.data.preprocess import cache_key_of, prepare
from core.data.synth import write_corpus

SLOW = "synth_00002.xml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    write_corpus(d, 6, 1)
    return d


def _prepare(corpus, workers: int):
    cfg = DataConfig(data_dir=str(corpus), workers=workers, file_timeout_s=1.0, window=40, overlap=0, split_by="file")
    return prepare(cfg, cache=False)


def _assert_only_the_slow_file_skipped(data) -> None:
    assert len(data.files) == 6
    assert [name for name, _ in data.errors] == [SLOW]
    (reason,) = [reason for _, reason in data.errors]
    assert reason.startswith("FileTimeout: ") and "data.file_timeout_s = 1 s" in reason
    assert len(data.train["features"]) + len(data.val["features"]) > 0  # the other five were prepared
    assert len(set(data.train["timeline"]) | set(data.val["timeline"])) >= 1


def test_in_process_the_alarm_interrupts_the_slow_file(corpus, monkeypatch):
    monkeypatch.setenv(SLOW_FILE_ENV, f"{SLOW}=60")
    _assert_only_the_slow_file_skipped(_prepare(corpus, workers=0))


def test_a_pool_worker_that_cannot_be_interrupted_is_killed_and_replaced(corpus, monkeypatch):
    # ":hang" blocks the alarm, as a hang inside C would: only the parent's kill ends it; with one worker,
    # the files after the slow one can only be prepared by the fresh worker that replaces it
    monkeypatch.setenv(SLOW_FILE_ENV, f"{SLOW}=60:hang")
    _assert_only_the_slow_file_skipped(_prepare(corpus, workers=1))


def test_limit_is_checked_and_keys_the_cache():
    with pytest.raises(ConfigError, match="file_timeout_s"):
        DataConfig(file_timeout_s=-1)
    key = cache_key_of(["a.xml"], ["d"], DataConfig())
    assert cache_key_of(["a.xml"], ["d"], DataConfig(file_timeout_s=5)) != key  # other files may be left out
    assert cache_key_of(["a.xml"], ["d"], DataConfig(workers=3)) == key
