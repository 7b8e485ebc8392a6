"""Watch mode in the TUI: the dashboard with files arriving live (real watchfiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui_support import frozen_clock, spec_for, wait_until
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.screens.dashboard import DashboardScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_watch_dashboard_shows_arriving_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "early.txt").write_text("was here before the watch started\n")
    store = Store(tmp_path / "jobs.db")
    app = BatchApp(spec=spec_for(inbox, "checksum"), start="watch", store=store,
                   clock=frozen_clock(), deterministic=True,
                   watch={"settle": 0.2, "rescan": None})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_until(pilot, lambda: screen.engine is not None and
                         screen.engine.snapshot().done == 1, what="the early file")
        for i in range(3):
            (inbox / f"new-{i}.txt").write_text(f"arrived {i}\n")
        await wait_until(pilot, lambda: screen.engine.snapshot().done == 4, timeout=20,
                         what="arriving files processed")
        await wait_until(pilot, lambda: len(screen.task_list._source) == 4, timeout=5,
                         what="rows for the arrivals")
        names = sorted(t.rel for t in screen.task_list._source)
        assert names == ["early.txt", "new-0.txt", "new-1.txt", "new-2.txt"]
        assert screen.running  # a watch keeps running with an empty queue
        await screen.stop_and_wait()
    with Store(tmp_path / "jobs.db") as again:  # the app closed its store on exit
        assert again.list_jobs()[0].counts["done"] == 4
