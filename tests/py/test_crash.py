"""Crash safety: SIGKILL a writer at random moments; no lost commit, no partial transaction.

GSQ_CRASH_KILLS (default 50) sets the number of kills; tests/crash_soak.py runs 1,000.
"""
import os
import random

import gsqtool
from conftest import OURS


def _run(tmp_path, cfg, kills, seed):
    path = str(tmp_path / "crash.db")
    st = gsqtool.crash_rounds(OURS, path, kills, seed=seed, cfg=cfg)
    summary = {k: v for k, v in st.items() if k != "problems"}
    assert st["problems"] == [], (summary, st["problems"][:10])
    assert st["corrupt_files"] == 0 and st["lost_commits"] == 0 and st["bad_rounds"] == 0
    assert st["kills"] == kills
    # the writer really got going: the rounds made commits, and the file is non-trivial
    assert st["reported_commits"] >= kills // 5, summary
    c = gsqtool.open_compressed(path, cfg, readonly=True)
    try:
        last = c.execute("SELECT last FROM meta").fetchone()[0]
        assert last >= st["reported_commits"] // 2
        assert c.execute("SELECT count(*) FROM tx").fetchone()[0] > 0
    finally:
        c.close()
    return st


def test_sigkill_writer_default_config(tmp_path):
    kills = int(os.environ.get("GSQ_CRASH_KILLS", "50"))
    _run(tmp_path, {"inner_page_KiB": 4}, kills, seed=random.randrange(1 << 30))


def test_sigkill_writer_small_pages_threads(tmp_path):
    """1 KiB inner pages (many pages per transaction) and compression threads."""
    kills = max(10, int(os.environ.get("GSQ_CRASH_KILLS", "50")) // 3)
    _run(tmp_path, {"inner_page_KiB": 1, "outer_page_KiB": 4, "threads": 2, "zstd_level": 1},
         kills, seed=random.randrange(1 << 30))
