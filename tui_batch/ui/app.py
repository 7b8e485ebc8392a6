"""The Textual application: screen routing, the job store, quit semantics, exit codes.

The app is the one module that knows every screen class: screens ask it to open the next one
through :class:`~tui_batch.ui.navigation.Navigator` (implemented here), never by building it,
and the help screen gets from it the screens whose keys it lists. The keys that work on every
screen (``?`` help, ``q`` quit) are bound here, so each footer ends with them, and the chosen
theme is restored from and saved to the TUI's settings file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import Theme

from ..errors import InputError, TuiBatchError
from ..jobs import EXIT_OK, create_job, plan_job
from ..model import JobSpec
from ..service.handover import ServiceRunner, for_service, in_process, watch_runner
from ..store import Store
from .clock import Clock, SystemClock
from .commands import ScreenActions
from .quitting import leave_or_stop, service_refused
from .resources import stylesheet_path
from .screens.dashboard import DashboardScreen
from .screens.form import FormScreen
from .screens.help import HelpScreen
from .screens.jobs import JobsScreen
from .screens.log import LogScreen
from .screens.preparing import PreparingScreen, preparing_title
from .screens.preview import PreviewScreen
from .settings import load_settings, save_setting

if TYPE_CHECKING:
    from .navigation import Navigator

StartMode = Literal["form", "run", "resume", "jobs", "demo", "watch", "attach"]


class BatchApp(App[int]):
    """tui-batch's TUI. ``run_tui`` builds one; tests build it directly with a fixed clock."""

    CSS_PATH = str(stylesheet_path())
    TITLE = "tui-batch"
    COMMANDS = App.COMMANDS | {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not priority: in a text field ? and q are typed; F1 and Ctrl+Q work there.
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("f2", "jobs", "Jobs"),
        Binding("f1", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
        # Ctrl+C quits as users expect (it still copies in a text field, which binds it)
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]
    KEY_NAMES: ClassVar[dict[str, str]] = {
        "enter": "Enter",
        "escape": "Esc",
        "space": "Space",
        "delete": "Del",
        "tab": "Tab",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "home": "Home",
        "end": "End",
    }
    """How keys are written in footers and help: words a new user reads at a glance."""
    HELP_SCREENS: ClassVar[tuple[type[Screen[Any]], ...]] = (
        FormScreen,
        PreviewScreen,
        DashboardScreen,
        LogScreen,
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
        self._quit_dialog: Screen[Any] | None = None
        self.farewell: str | None = None
        """Printed once the TUI has closed (how to attach again to a job left running)."""
        self._saved_theme = ""
        if deterministic:
            self.animation_level = "none"

    def get_key_display(self, binding: Binding) -> str:
        """``Enter``, ``Esc``, ``^r``: the spelling of every key in footers and help."""
        if binding.key_display:
            return binding.key_display
        name = self.KEY_NAMES.get(binding.key)
        if name is not None:
            return name
        if binding.key.startswith("f") and binding.key[1:].isdigit():
            return binding.key.upper()
        return super().get_key_display(binding)

    # ---------------------------------------------------------------- settings
    def _restore_theme(self) -> None:
        theme = load_settings().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._saved_theme = self.theme
        self.theme_changed_signal.subscribe(self, self._save_theme)

    def _save_theme(self, theme: Theme) -> None:
        if theme.name == self._saved_theme:
            return
        try:
            save_setting("theme", theme.name)
            self._saved_theme = theme.name
        except OSError as exc:
            self.notify(f"The theme is used now but not saved: {exc}", severity="warning")

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
        self._restore_theme()
        if self.start == "run" and self.spec is not None:
            preparing = PreparingScreen(preparing_title(self.spec))
            self.push_screen(preparing)
            self.prepare_run(self.spec, preparing)
        elif self.start == "watch" and self.spec is not None:
            self.open_watch(self.spec)
        elif self.start == "resume" and self.job_id is not None:
            self.open_dashboard(self.job_id, autostart=True)
        elif self.start == "attach" and self.job_id is not None:
            self.open_attached(self.job_id)
        elif self.start == "jobs":
            self.push_screen(JobsScreen())
        else:
            self.push_screen(FormScreen(root=self.root, spec=self.spec))

    @work(thread=True, exclusive=True, group="prepare")
    def prepare_run(self, spec: JobSpec, screen: PreparingScreen) -> None:
        """`tui-batch run` on a terminal: plan + create the job, its counts on ``screen``,
        then open its dashboard. Stopped (Esc, quit): no job is left behind."""
        stop = screen.cancel
        spec = for_service(spec)
        try:
            plan = plan_job(spec, store=self.store, cancel=stop, progress=screen.report)
            empty = plan.nothing_matched()
            if empty is not None and not stop.is_set():
                self.call_from_thread(self._prepare_failed, spec, empty, "Nothing to run")
                return
            job_id = None if stop.is_set() else create_job(self.store, plan, progress=screen.report)
        except (InputError, OSError) as exc:
            message = f"{exc.field}: {exc.message}" if isinstance(exc, InputError) else str(exc)
            if not stop.is_set():
                self.call_from_thread(self._prepare_failed, spec, message)
            return
        if job_id is not None and stop.is_set():
            self.store.delete_job(job_id)  # stopped while it was being stored
        elif job_id is not None:
            self.call_from_thread(self._prepared, screen, job_id)

    def _prepared(self, screen: PreparingScreen, job_id: int) -> None:
        if screen.cancel.is_set() or not self._back_to_preparing():  # Esc came first
            self.store.delete_job(job_id)
            return
        self.open_dashboard(job_id, autostart=True, replace=True)

    def _back_to_preparing(self) -> bool:
        """Close what was opened over the preparing screen (help, the palette) so the next
        screen takes its place; False when it is gone."""
        if not any(isinstance(s, PreparingScreen) for s in self.screen_stack):
            return False
        while not isinstance(self.screen, PreparingScreen):
            self.pop_screen()
        return True

    def on_preparing_screen_stopped(self, message: PreparingScreen.Stopped) -> None:
        if isinstance(self.screen, PreparingScreen) and self.spec is not None:
            self.switch_screen(FormScreen(spec=self.spec))
            self.notify("Stopped before the job was created.", title="Stopped")

    def open_watch(self, spec: JobSpec) -> None:
        """`tui-batch watch` on a terminal: the same dashboard, with files arriving live."""
        from ..watch import Watcher, WatchError

        try:  # in the service (it outlives the terminal), shown attached; or here
            runner: Any = Watcher(spec, self.store, **self.watch_options) if in_process() \
                else watch_runner(self.store, spec, self.watch_options)
        except (InputError, WatchError, OSError) as exc:
            message = f"{exc.field}: {exc.message}" if isinstance(exc, InputError) else str(exc)
            self.push_screen(FormScreen(spec=spec))
            self.notify(message, severity="error", title="Cannot watch")
            return
        screen = DashboardScreen(self.store, runner.job_id, runner=runner, autostart=True,
                                 live_rows=True)
        screen.job.warn = partial(service_refused, screen)
        self.push_screen(screen)

    def _prepare_failed(self, spec: JobSpec, message: str, title: str = "Cannot start") -> None:
        if not self._back_to_preparing():
            return
        self.switch_screen(FormScreen(spec=spec))
        self.notify(message, severity="error" if title == "Cannot start" else "warning",
                    title=title)

    # ------------------------------------------------- navigation (for screens)
    def open_form(self, *, root: str | None = None, spec: JobSpec | None = None) -> None:
        """Push the filter form, prefilled with ``root`` or from ``spec``."""
        self.push_screen(FormScreen(root=root, spec=spec))

    def open_preview(self, spec: JobSpec) -> None:
        """Push the preview of what ``spec`` would process."""
        self.push_screen(PreviewScreen(for_service(spec)))

    def open_dashboard(self, job_id: int, *, autostart: bool, replace: bool = False) -> None:
        """Show a stored job's dashboard (pushed, or in place of the current screen). A job
        started here runs in the per-user service (it outlives the terminal) and the
        dashboard is attached to it, unless ``TUI_BATCH_INPROCESS`` asks for this process."""
        if autostart and not in_process():
            runner = ServiceRunner(self.store, job_id)
            screen = DashboardScreen(self.store, job_id, runner=runner, autostart=True)
            screen.job.warn = partial(service_refused, screen)
        else:
            screen = DashboardScreen(self.store, job_id, autostart=autostart)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_attached(self, job_id: int) -> None:
        """Push the dashboard of a job running in another process, attached to it."""
        from ..control.remote_runner import RemoteRunner

        runner = RemoteRunner(self.store, job_id)
        self.push_screen(DashboardScreen(self.store, job_id, runner=runner, autostart=True))

    def open_jobs(self, *, replace: bool = False) -> None:
        """Show the jobs screen (pushed, or in place of the current screen)."""
        if replace:
            self.switch_screen(JobsScreen())
        else:
            self.push_screen(JobsScreen())

    def open_log(self, job_id: int, task: Any, engine: Callable[[], Any] | None = None) -> None:
        """Push the full output of ``task`` (of job ``job_id``), following it in ``engine``."""
        self.push_screen(LogScreen(self.store, job_id, task, engine))

    # ---------------------------------------------------------------- actions
    def action_help(self) -> None:
        """The keys of this screen, then of every screen (again: close the help)."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.HELP_SCREENS, origin=self.screen))

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
        """The dashboard whose job is running here or was started here in the service, if
        any (not one attached to a job started elsewhere: leaving that one stops nothing)."""
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and not screen.job.viewer and (
                    screen.running or screen.job.handing_over):
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
        from .dialogs.leave_job import LeaveJobDialog

        dashboard = self.running_dashboard()
        if dashboard is None:
            self.exit(self.last_exit_code)
            return
        if self._quit_dialog is not None and self._quit_dialog is self.screen:
            # q again in "Quit while the job runs?": that is the answer, as y would be.
            if isinstance(self._quit_dialog, LeaveJobDialog):
                self._quit_dialog.action_select()  # the highlighted choice: leave, at first
            else:
                self._quit_dialog.dismiss(True)
            return
        if dashboard.job.in_service:  # leave it running in the background, or stop it?
            self._quit_dialog = LeaveJobDialog(dashboard.job_id, self.store.path,
                                               watch=dashboard.live_rows)
            await self.push_screen(self._quit_dialog, partial(self._left, dashboard))
            return

        async def answer(yes: bool | None) -> None:
            self._quit_dialog = None
            if yes:
                await self.quit_running(dashboard)

        # the dashboard words it: a watch is stopped ("Stop watching?"), a job is quit
        title, text, yes, no = dashboard.quit_question(
            resume_advice(dashboard.job_id, self.store.path)
        )
        self._quit_dialog = ConfirmDialog(title, text, yes=yes, no=no, danger=True)
        await self.push_screen(self._quit_dialog, answer)

    async def _left(self, dashboard: DashboardScreen, choice: str | None) -> None:
        self._quit_dialog = None
        await leave_or_stop(self, dashboard, choice)

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
    if app.farewell:
        print(app.farewell, flush=True)
    return EXIT_OK if result is None else int(result)
