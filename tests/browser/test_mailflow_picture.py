"""The mail-flow picture as JupyterLab shows it in Chromium: two pictures in one notebook (lab 08's
deferred wait and a fork), measured with the browser's own fonts. Every arrowhead names a marker of
its own picture, no label overprints another or a box, and every line of text fits its box."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import learner_environment
from .jupyterlab import Lab

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "unit"))
from test_mailflow import BACKUP, MX, PRIMARY, SENDER  # noqa: E402  (the logs the unit tests draw)

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "browser") + "-picture"
FORK = SENDER.replace(
    "Nov 30 07:10:01 mail postfix/qmgr[403]: 3F1A21C61F6: removed",
    "Nov 30 07:10:02 mail postfix/smtp[404]: 3F1A21C61F6: to=<bob@example.org>, relay=none, delay=0.2, "
    "delays=0.01/0.02/0.1/0, dsn=4.4.1, status=deferred (connect to mx.example.org[203.0.113.5]:25: "
    "Connection refused)")


@pytest.fixture(scope="module")
def learner_env(tmp_path_factory):
    for env in learner_environment(tmp_path_factory, LEARNER):
        # The server and its kernels draw with this tree's grader, whichever one is installed.
        root = str(HERE.parents[1])
        yield {**env, "PYTHONPATH": os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)}


@pytest.fixture(scope="module")
def lab02():
    """The pictures are drawn from log text: no lab machine is needed. Whatever `maillab up` started
    for this learner (its first lab) is removed after the server stops."""
    yield None
    from classroom.session import open_session
    from grader import course as lab_course

    for lab in lab_course.all_labs():
        session = open_session(lab.id, LEARNER)
        for machine in session.machines():
            if machine.exists():
                machine.destroy()
        network = session.network()
        if network is not None and network.exists():
            network.destroy()


def _notebook(path: Path) -> None:
    code = ("from IPython.display import HTML, display\n"
            "from grader.mailflow import journey_html, trace\n"
            f"display(HTML(journey_html(trace([('mail2', {BACKUP!r}), ('mail1', {PRIMARY!r})]))))\n"
            f"display(HTML(journey_html(trace([('mail', {FORK!r}), ('mx1', {MX!r})]))))\n")
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": code.splitlines(keepends=True)}
    path.write_text(json.dumps({"cells": [cell], "metadata": {"kernelspec": {
        "name": "maillab", "display_name": "MailLab (Python 3)", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}))


# Measured in each picture's own units: ids, arrowheads, label and box overlaps, text inside boxes.
MEASURE = """() => {
  const pictures = [...document.querySelectorAll('svg.maillab-mailflow')];
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const out = {count: pictures.length, duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i),
               foreignMarkers: 0, overlaps: [], overflows: [], scale: []};
  const inter = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  for (const svg of pictures) {
    out.scale.push(svg.getBoundingClientRect().width / svg.width.baseVal.value);
    for (const p of svg.querySelectorAll('path[marker-end]')) {
      const id = p.getAttribute('marker-end').slice(5, -1);
      const m = document.getElementById(id);
      if (!m || m.closest('svg') !== svg) out.foreignMarkers++;
    }
    const rects = [...svg.querySelectorAll('g.maillab-stage > rect')].map(r => r.getBBox());
    const labels = [...svg.querySelectorAll('text.maillab-flow-label')].map(t => [t.textContent, t.getBBox()]);
    labels.forEach(([text, box], i) => {
      labels.slice(i + 1).forEach(([other, b]) => { if (inter(box, b)) out.overlaps.push([text, other]); });
      rects.forEach(r => { if (inter(box, r)) out.overlaps.push([text, 'a box']); });
    });
    for (const g of svg.querySelectorAll('g.maillab-stage')) {
      const r = g.querySelector('rect').getBBox();
      for (const t of g.querySelectorAll(':scope > text')) {
        const b = t.getBBox();
        if (b.x + b.width > r.x + r.width - 2 || b.y + b.height > r.y + r.height) out.overflows.push(t.textContent);
      }
    }
  }
  return out;
}"""


def test_two_pictures_in_a_notebook_keep_their_arrows_labels_and_text(course, browser, tmp_path_factory):
    _notebook(course.workspace / "pictures.ipynb")
    shots = tmp_path_factory.mktemp("shots")
    lab = Lab(browser.new_page(), course, shots)
    lab.open("pictures.ipynb")
    lab.run(lab.cell(0))
    pictures = lab.page.locator("svg.maillab-mailflow")
    expect(pictures).to_have_count(2)
    pictures.first.scroll_into_view_if_needed()
    lab.shot("mailflow-two-pictures")
    seen = lab.page.evaluate(MEASURE)
    assert seen["count"] == 2
    assert seen["duplicateIds"] == [], seen["duplicateIds"]
    assert seen["foreignMarkers"] == 0
    assert seen["overlaps"] == [], seen["overlaps"]
    assert seen["overflows"] == [], seen["overflows"]
    assert seen["scale"] == [1, 1]  # drawn at its real size (scrolled sideways), not shrunk to the column
    words = " ".join(pictures.first.locator("text").all_text_contents())
    assert "deferred queue" in words and "waited 5 min 4 s" in words
    print(f"screenshots in {shots}; scale {seen['scale']}")
    lab.page.close()
