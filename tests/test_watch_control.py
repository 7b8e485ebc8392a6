"""Watch mode serves its job's control socket like a foreground run: another shell sees a
snapshot, pauses and resumes it, and the socket goes away when the watch ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui_batch.control import connect, socket_path
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.watch import Watcher


def test_a_watch_is_reachable_and_paused_from_another_client(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="noop"),
                   EngineSettings(workers=1))

    def control(db: str, job_id: int) -> list[object]:
        with connect(db, job_id, timeout=5) as client:  # type: ignore[union-attr]
            snap = client.call("snapshot")
            paused = client.call("pause")
            again = client.call("snapshot")
            client.call("resume")
            return [snap["job_id"], paused["paused"], again["paused"]]

    async def main() -> list[object]:
        store = Store(tmp_path / "w.db")
        w = Watcher(spec, store, settle=0.2)
        task = asyncio.create_task(w.run())
        try:
            path = socket_path(store.path, w.job_id)
            for _ in range(500):
                if path.exists():
                    break
                await asyncio.sleep(0.01)
            got = await asyncio.to_thread(control, store.path, w.job_id)
        finally:
            w.stop()
            assert await asyncio.wait_for(task, 30) == 0
            await w.aclose()
        assert not path.exists()
        assert connect(store.path, w.job_id) is None
        store.close()
        return [w.job_id, *got]

    job_id, seen_id, paused, still = asyncio.run(main())
    assert (seen_id, paused, still) == (job_id, True, True)
