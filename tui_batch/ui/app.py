"""The Textual application: screen routing, the job store, quit semantics, exit codes.

The app is the one module that knows every screen class: screens ask it to open the next one
through :class:`~tui_batch.ui.navigation.Navigator` (implemented here), never by building it,
and the help screen gets from it the screens whose keys it lists.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static

from ..errors import InputError, TuiBatchError
from ..jobs import EXIT_OK, create_job, plan_job
from ..model import JobSpec
from ..store import Store
from .clock import Clock, SystemClock
from .commands import ScreenActions
from .resources import stylesheet_path
from .screens.dashboard import DashboardScreen
from .screens.form import FormScreen
from .screens.help import HelpScreen
from .screens.jobs import JobsScreen
from .screens.preview import PreviewScreen

if TYPE_CHECKING:
    from .navigation import Navigator

StartMode = Literal["form", "run", "resume", "jobs", "demo", "watch"]


class PreparingScreen(Screen[None]):
    """Shown while `tui-batch run` scans and creates its job before the dashboard opens."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        """What is being prepared."""

    def compose(self) -> ComposeResult:
        # No Header: this screen may be replaced a few ms after it mounts, and Header's
        # deferred title update then fails to find its own children.
        yield Static(self.text, id="preparing")
        yield LoadingIndicator()
        yield Footer()


class BatchApp(App[int]):
    """tui-batch's TUI. ``run_tui`` builds one; tests build it directly with a fixed clock."""

    CSS_PATH = str(stylesheet_path())
    TITLE = "tui-batch"
    COMMANDS = App.COMMANDS | {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "jobs", "Jobs"),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]
    HELP_SCREENS: ClassVar[tuple[type[Screen[Any]], ...]] = (
        FormScreen,
        PreviewScreen,
        DashboardScreen,
        JobsScreen,
    )
    """The screens whose keys the help lists, in this order."""

    def __init__(
        self,
        *,
        root: str | None = None,
        spec: JobSpec | None = None,
        job_id: int | None = None,
        db: str | None = None,
        start: StartMode = "form",
        clock: Clock | None = None,
        deterministic: bool = False,
        store: Store | None = None,
        watch: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.watch_options = watch or {}
        """Watcher keyword arguments (start='watch'): settle, poll, rescan, on_stop, ..."""
        self.root = root
        """Folder prefilled in the form."""
        self.spec = spec
        """Spec prefilled in the form, or run directly (start='run')."""
        self.job_id = job_id
        """Job to resume (start='resume')."""
        self.db = db
        """Job store path (None: TUI_BATCH_DB or the user data folder)."""
        self.start = start
        """First screen."""
        self.clock: Clock = clock or SystemClock()
        """Time source of every widget that shows dates or durations."""
        self.deterministic = deterministic
        """Tests / screenshots: no animation, no cursor blink."""
        self.last_exit_code = EXIT_OK
        """Exit code of the last finished job run (0, 1 or 130)."""
        self._store = store
        self._store_lock = threading.Lock()
        if deterministic:
            self.animation_level = "none"

    # ------------------------------------------------------------------ store
    @property
    def store(self) -> Store:
        """The job store, opened on first use (thread-safe: workers may get here first)."""
        with self._store_lock:
            if self._store is None:
                self._store = Store(self.db)
            return self._store

    def on_unmount(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except TuiBatchError as exc:  # a failed background write: report, don't crash
                self.log.error(f"store close: {exc}")

    # ---------------------------------------------------------------- routing
    def on_mount(self) -> None:
        if self.start == "run" and self.spec is not None:
            self.push_screen(PreparingScreen("Scanning and creating the job…"))
            self.prepare_run(self.spec)
        elif self.start == "watch" and self.spec is not None:
            self.open_watch(self.spec)
        elif self.start == "resume" and self.job_id is not None:
            self.push_screen(DashboardScreen(self.store, self.job_id, autostart=True))
        elif self.start == "jobs":
            self.push_screen(JobsScreen())
        else:
            self.push_screen(FormScreen(root=self.root, spec=self.spec))

    @work(thread=True, exclusive=True, group="prepare")
    def prepare_run(self, spec: JobSpec) -> None:
        """`tui-batch run` on a terminal: plan + create the job, then open its dashboard."""
        try:
            plan = plan_job(spec, store=self.store)
            job_id = create_job(self.store, plan)
        except (InputError, OSError) as exc:
            message = f"{exc.field}: {exc.message}" if isinstance(exc, InputError) else str(exc)
            self.call_from_thread(self._prepare_failed, spec, message)
            return
        self.call_from_thread(self.open_dashboard, job_id, autostart=True, replace=True)

    def open_watch(self, spec: JobSpec) -> None:
        """`tui-batch watch` on a terminal: the same dashboard, with files arriving live."""
        from ..watch import Watcher, WatchError

        try:
            watcher = Watcher(spec, self.store, **self.watch_options)
        except (InputError, WatchError, OSError) as exc:
            message = f"{exc.field}: {exc.message}" if isinstance(exc, InputError) else str(exc)
            self.push_screen(FormScreen(spec=spec))
            self.notify(message, severity="error", title="Cannot watch")
            return
        self.push_screen(
            DashboardScreen(self.store, watcher.job_id, runner=watcher,  # type: ignore[arg-type]
                            autostart=True, live_rows=True)
        )

    def _prepare_failed(self, spec: JobSpec, message: str) -> None:
        self.switch_screen(FormScreen(spec=spec))
        self.notify(message, severity="error", title="Cannot start")

    # ------------------------------------------------- navigation (for screens)
    def open_form(self, *, root: str | None = None, spec: JobSpec | None = None) -> None:
        """Push the filter form, prefilled with ``root`` or from ``spec``."""
        self.push_screen(FormScreen(root=root, spec=spec))

    def open_preview(self, spec: JobSpec) -> None:
        """Push the preview of what ``spec`` would process."""
        self.push_screen(PreviewScreen(spec))

    def open_dashboard(self, job_id: int, *, autostart: bool, replace: bool = False) -> None:
        """Show a stored job's dashboard (pushed, or in place of the current screen)."""
        screen = DashboardScreen(self.store, job_id, autostart=autostart)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_jobs(self, *, replace: bool = False) -> None:
        """Show the jobs screen (pushed, or in place of the current screen)."""
        if replace:
            self.switch_screen(JobsScreen())
        else:
            self.push_screen(JobsScreen())

    # ---------------------------------------------------------------- actions
    def action_help(self) -> None:
        """Keys and concepts of every screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.HELP_SCREENS))

    def action_jobs(self) -> None:
        """Jobs in the store: open, resume, delete."""
        if isinstance(self.screen, JobsScreen):
            return
        running = self.running_dashboard()
        if running is not None and running is self.screen:
            self.notify(
                "A job is running: quit (q) stops it resumably, or wait for it.", severity="warning"
            )
            return
        self.push_screen(JobsScreen())

    def running_dashboard(self) -> DashboardScreen | None:
        """The dashboard whose job is running, if any."""
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and screen.running:
                return screen
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "jobs":
            return not isinstance(self.screen, JobsScreen) and self.running_dashboard() is None
        return True

    async def action_quit(self) -> None:
        """Quit; asks first when work is running (the job stays resumable)."""
        from ..jobs import resume_advice
        from .dialogs.confirm import ConfirmDialog

        dashboard = self.running_dashboard()
        if dashboard is None:
            self.exit(self.last_exit_code)
            return
        left = dashboard.job.remaining()

        async def answer(yes: bool | None) -> None:
            if yes:
                await self.quit_running(dashboard)

        await self.push_screen(
            ConfirmDialog(
                "Quit while the job runs?",
                f"{left:,} tasks are not finished. Running tasks are stopped; "
                f"{resume_advice(dashboard.job_id, self.store.path)}",
                yes="Quit",
                no="Keep running",
                danger=True,
            ),
            answer,
        )

    async def quit_running(self, dashboard: DashboardScreen) -> None:
        """Stop the running job (saved, resumable) and exit: 130 while work is left.

        The code comes from the job's state after the engine has stopped, never from counts
        taken before: a task stopped by the quit is interrupted, neither queued nor running."""
        await dashboard.stop_and_wait()
        self.exit(dashboard.job.final_exit_code())

    def record_exit_code(self, code: int) -> None:
        """A dashboard finished a run: remember its outcome for the process exit code."""
        self.last_exit_code = code


if TYPE_CHECKING:
    _NAVIGATOR: type[Navigator] = BatchApp  # the app is what its screens navigate through


def run_app(app: BatchApp) -> int:
    """Run and translate the app's return value into a process exit code."""
    result = app.run()
    return EXIT_OK if result is None else int(result)
