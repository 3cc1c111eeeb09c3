"""The instructors' dashboard: a JupyterHub service at /services/dashboard/ (instructors only).

A live grid of learners x steps (colour and symbol), who is stuck where and for how long with the
last hint they were shown; a learner's latest result; resetting a learner's machine; the CSV
export. The page asks for grid.json every two seconds and redraws: no reload.

Runs as root, started by the hub. Only holders of `access:services!service=dashboard` get in
(the hub's admins: the workshop's instructors); HubOAuth checks it on every request.
"""
from __future__ import annotations

import grp
import html
import json
import logging
import os
import pwd
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.web import Application, HTTPError, RequestHandler, authenticated

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated

from classroom import export
from grader import course
from grader.errors import MailLabError
from classroom.gradebook import Gradebook, GradebookError, StepRecord
from classroom.gradebooks import open_gradebook
from grader.i18n import N_, say, tr
from classroom.session import gradebook_path

from . import client
from .lifetime import exit_with_parent
from .settings import WorkshopSettings, settings_file

log = logging.getLogger("maillab.workshop.dashboard")
POLL_SECONDS = 2

# Cell states: the word, the symbol and the colour (colour only reinforces symbol and word).
# The words are message ids: grid() sends them in the dashboard's language.
CELLS = {
    "pass": (N_("PASS"), "\u2714", "#1a7f37"),
    "helped": (N_("passed with help"), "\u2714", "#0969da"),  # passed after the step's how-to was shown
    "fail": (N_("FAIL"), "\u2718", "#b42318"),
    "error": (N_("ERROR"), "\u26a0", "#9a6700"),
    "was": (N_("passed before"), "\u2713", "#4d9e63"),
    "solved": (N_("solution used"), "\u25d0", "#6e40c9"),
    "skipped": (N_("skipped"), "\u23ed", "#6e40c9"),  # Skip to here: the solution, without a check
    "reset": (N_("reset"), "\u21ba", "#57606a"),
    "none": (N_("not started"), "\u25cb", "#8c959f"),
}


def cell_state(record: StepRecord | None) -> str:
    """What a grid cell shows: the step's state now."""
    if record is None:
        return "none"
    if record.passed_now:
        return "helped" if record.guided and not record.own_passed else "pass"
    if record.last_kind == "skip":
        return "skipped"
    if record.last_kind == "solve" or (record.last_kind == "check" and record.last_status == "PASS"):
        return "solved"  # a pass after the solution was used is the machine's, not the learner's
    if record.last_kind == "reset":
        return "was" if record.ever_passed else "reset"
    return {"FAIL": "fail", "ERROR": "error"}.get(record.last_status, "none")


def learners_of(group: str, book: Gradebook, instructors: list[str] = ()) -> list[str]:
    """Everyone with grades, and every member of the workshop's group (instructors only if they
    have grades: they may try the labs too)."""
    names = set(book.learners())
    graded = set(names)
    try:
        entry = grp.getgrnam(group)
        names |= set(entry.gr_mem)
        names |= {u.pw_name for u in pwd.getpwall() if u.pw_gid == entry.gr_gid}
    except KeyError:
        pass
    return sorted(n for n in names if n in graded or n not in instructors)


def grid(settings: WorkshopSettings, book: Gradebook, now: datetime | None = None) -> dict:
    """Everything the page shows, as JSON."""
    now = now or datetime.now(timezone.utc)
    every_lab = course.all_labs()
    records = {(r.learner, r.lab, r.step): r for r in book.records()}
    columns = [{"lab": lab.id, "step": s.id, "title": s.title} for lab in every_lab for s in lab.steps]
    rows = []
    for learner in learners_of(settings.group, book, settings.instructors):
        cells, where = [], None
        for column in columns:
            record = records.get((learner, column["lab"], column["step"]))
            state = cell_state(record)
            cells.append({"state": state, "attempts": record.attempts if record else 0,
                          "hints": record.hints_shown if record else 0,
                          "guided": record.guided if record else 0,  # how-tos shown
                          "level": record.hint_level if record else 0})  # the hint ladder's rung reached
            # Where a learner is stuck: the first step they tried and have not passed (a learner may
            # start at any lab, so steps never tried do not count).
            if where is None and state not in ("pass", "helped", "solved", "skipped") and record is not None and record.attempts:
                where = (column, record)
        stuck = None
        if where is not None and where[1] is not None and where[1].attempts and where[1].last_status != "PASS":
            column, record = where
            since = _parse(record.first_attempt_at)
            stuck = {"lab": column["lab"], "step": column["step"], "attempts": record.attempts,
                     "minutes": round((now - since).total_seconds() / 60, 1) if since else None,
                     "last_hint": record.last_hint}
        rows.append({"learner": learner, "cells": cells, "stuck": stuck})
    return {"columns": columns, "rows": rows,
            "cells": {k: [tr(word), symbol, colour] for k, (word, symbol, colour) in CELLS.items()},
            "at": now.isoformat(timespec="seconds")}


def _parse(when: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(when)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Base(HubOAuthenticated, RequestHandler):
    @property
    def settings_(self) -> WorkshopSettings:
        return self.application.settings["workshop"]

    @property
    def book(self) -> Gradebook:
        """Opened once (opening checks the schema in a write transaction; the grid polls often)."""
        if self.application.settings.get("book") is None:
            self.application.settings["book"] = open_gradebook(gradebook_path())
        return self.application.settings["book"]

    def write_error(self, status_code: int, **kwargs) -> None:
        reason = kwargs.get("exc_info", (None, None))[1]
        message = reason.log_message if isinstance(reason, HTTPError) and reason.log_message else self._reason
        title = html.escape(tr("MailLab dashboard"))
        self.finish(f"<!doctype html><title>{title}</title><p>{html.escape(str(message))}</p>")


class Page(Base):
    @authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        token = self.xsrf_token  # JupyterHub's: a page's fetch() must send it back (X-XSRFToken)
        token = token.decode() if isinstance(token, bytes) else str(token)
        self.finish(PAGE.replace("{{POLL_MS}}", str(POLL_SECONDS * 1000)).replace("{{XSRF}}", html.escape(token)))


class GridData(Base):
    @authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        try:
            self.finish(json.dumps(grid(self.settings_, self.book)))
        except GradebookError as exc:  # say so on the page: the instructor can fix it
            self.application.settings["book"] = None
            self.set_status(503)
            self.finish(json.dumps({"error": say(exc)}))


class Result(Base):
    @authenticated
    def get(self, learner: str, lab_id: str, step: str) -> None:
        book = self.book
        if not book.has_learner(learner):
            raise HTTPError(404, tr("There is no learner called {learner} in the gradebook.", learner=learner))
        result = book.last_result(learner, lab_id, step, checks_only=True)
        body = (result.to_html() if result is not None
                else "<p>" + tr("{learner} has not checked {lab}: {step} yet.", learner=html.escape(learner),
                                lab=html.escape(lab_id), step=html.escape(step)) + "</p>")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(f"<!doctype html><meta charset=utf-8><title>{html.escape(learner)}: {html.escape(step)}</title>"
                    f"<h1>{html.escape(learner)}: {html.escape(lab_id)} / {html.escape(step)}</h1>{body}")


class Reset(Base):
    @authenticated
    def post(self) -> None:
        # A header a foreign page cannot send without asking (CORS): no cross-site resets.
        if self.request.headers.get("X-MailLab-Dashboard") != "1":
            raise HTTPError(400, tr("Reset from the dashboard page."))
        try:
            data = json.loads(self.request.body or b"{}")
            learner, lab_id, step = data["learner"], data["lab"], data.get("step")
        except (ValueError, KeyError, TypeError):
            raise HTTPError(400, tr("Say which learner, lab and step to reset.")) from None
        try:
            client.call("reset", learner=learner, lab=lab_id, step=step)
        except MailLabError as exc:
            self.set_status(400)
            self.finish({"ok": False, "error": say(exc)})
            return
        log.info("instructor %s reset %s's %s %s", self.current_user.get("name"), learner, lab_id, step or "")
        self.finish({"ok": True})


class Export(Base):
    @authenticated
    def get(self) -> None:
        target = self.get_argument("for", "plain")
        if target not in export.IDENTITY_COLUMNS:
            raise HTTPError(400, tr("Export for one of: {targets}.", targets=", ".join(export.IDENTITY_COLUMNS)))
        text = export.wide_csv(self.book, course.all_labs(), target=target,
                               score=self.get_argument("score", "ever"))
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="maillab-grades-{target}.csv"')
        self.finish(text)


def make_app(settings: WorkshopSettings) -> Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboard/")
    return Application([
        (prefix, Page),
        (prefix + "grid.json", GridData),
        (prefix + r"result/([^/]+)/([^/]+)/([^/]+)", Result),
        (prefix + "reset", Reset),
        (prefix + "export.csv", Export),
        (prefix + "oauth_callback", HubOAuthCallbackHandler),
    ], cookie_secret=os.urandom(32), workshop=settings)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[maillab dashboard %(asctime)s] %(message)s")
    settings = WorkshopSettings.load(settings_file())
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = HTTPServer(make_app(settings))
    server.listen(url.port, url.hostname)
    loop = IOLoop.current()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.add_callback_from_signal(loop.stop))
    exit_with_parent()
    log.info("dashboard at %s", url.geturl())
    loop.start()
    return 0


PAGE = (Path(__file__).with_name("dashboard.html")).read_text(encoding="utf-8")

if __name__ == "__main__":
    sys.exit(main())
