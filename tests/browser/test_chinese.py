"""The Chinese edition in a real browser: `maillab up --lang zh` opens the Chinese course home, a
Chinese lab's Check button shows a Chinese hint, and the gradebook keeps the same step ids."""
from __future__ import annotations

import os
import re

import pytest

from grader import course
from grader.check import load_checks
from grader.i18n import tr
from classroom.session import open_session

from .conftest import learner_environment, tracebacks
from .jupyterlab import Lab, start_server
from .test_learner_flow import CHECK_INSTALL

pytestmark = pytest.mark.machine

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "browser") + "-zh"
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_env(tmp_path_factory):
    yield from learner_environment(tmp_path_factory, LEARNER)


@pytest.fixture(scope="module")
def zh_lab02(zh_env):
    session = open_session("install-postfix", LEARNER)
    session.reset()
    yield session
    for machine in session.machines():
        machine.destroy()


@pytest.fixture(scope="module")
def zh_course(zh_lab02, zh_env, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("course-zh") / "workspace", zh_env, args=("--lang", "zh"))
    yield server
    ours = [t for t in tracebacks(server.stop()) if any(p in t for p in ("/grader/", "/sandbox/", "/labs/"))]
    assert not ours, "\n\n".join(ours)


def first_words(text: str) -> str:
    """The start of a translated sentence, before its first `command` (shown as code in the panel)."""
    return re.split(r"`[^`]*`", text)[0].strip()[:8]


def test_a_chinese_lab_checks_in_chinese_and_records_the_same_step_ids(zh_course, browser, zh_lab02, tmp_path):
    lab02 = course.find("install-postfix")
    lab = Lab(browser.new_page(), zh_course, tmp_path)
    page = lab.page

    # `maillab up --lang zh` opened the Chinese home, whose map links to the Chinese notebooks.
    assert "/lab/tree/00-course-home.zh.ipynb" in zh_course.log.read_text()
    assert (zh_course.workspace / "00-course-home.zh.ipynb").is_file()
    assert (zh_course.workspace / "02-install-postfix.zh.ipynb").is_file()
    lab.open("00-course-home.zh.ipynb")
    home = page.locator(".maillab-home").first
    title = tr(lab02.title, "zh")
    assert HAN.search(title) and title in home.inner_text()
    lab.shot("home-zh")
    home.locator("a", has_text=title).first.click()
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="02-install-postfix.zh.ipynb").wait_for()
    lab.wait_idle()

    # The lab's first cell starts the machine; the check cell's panel, on Check, gives a Chinese hint.
    lab.run(lab.cell_with("open_lab("))
    header = lab.cell_with("open_lab(").locator(".jp-OutputArea").first
    assert HAN.search(header.inner_text())
    lab.run(lab.cell_with(CHECK_INSTALL))
    panel = lab.cell_with(CHECK_INSTALL).locator(".maillab-check-panel").first
    before = zh_lab02.progress().get("install", {}).get("attempts", 0)
    button = panel.locator("button.maillab-check")
    assert HAN.search(button.inner_text()), "the Check button speaks Chinese"
    button.click()
    page.wait_for_function("([p, n]) => !p.querySelector('button.maillab-check .fa-spinner') && "
                           "p.querySelectorAll('.maillab-hint').length > 0",
                           arg=[panel.element_handle(), 0], timeout=60_000)
    shown = panel.inner_text()
    installed = next(c for c in load_checks(lab02.checks_file)["install"] if c.name == "postfix_is_installed")
    assert first_words(tr(installed.hint, "zh")) in shown, shown
    assert tr(installed.title, "zh") in panel.locator("details").first.text_content(), "what the grader saw, in Chinese"
    assert "Hint:" not in shown and "FAIL" not in shown
    lab.shot("fail-with-chinese-hint")

    # The gradebook has the attempt under the same lab and step ids as in English.
    progress = zh_lab02.progress()
    assert progress["install"]["attempts"] == before + 1
    assert set(progress) <= {s.id for s in lab02.steps}


BANNER = ("el => getComputedStyle(el.closest('.maillab-check-panel'), '::before').content")


def test_a_disconnected_english_panel_speaks_english_beside_a_chinese_one(zh_course, browser, zh_lab02, tmp_path):
    """Issue 17 item 12: with the Chinese edition's panels on the page, an English notebook's panel
    that loses its kernel says so in English (the banner is scoped by each panel's language)."""
    from classroom.notebook.panel import TEXT

    lab = Lab(browser.new_page(), zh_course, tmp_path)
    page = lab.page
    lab.open("02-install-postfix.ipynb")
    lab.run(lab.cell_with("open_lab("))
    lab.run(lab.cell_with(CHECK_INSTALL))
    # The Chinese edition opened beside it, in the same page, from the file browser.
    page.locator(".jp-DirListing-content .jp-DirListing-itemText",
                 has_text=re.compile(r"^02-install-postfix\.zh\.ipynb$")).first.dblclick()
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="02-install-postfix.zh.ipynb").wait_for()
    lab.wait_idle()
    lab.run(lab.cell_with("open_lab("))
    lab.run(lab.cell_with(CHECK_INSTALL))
    assert page.locator(".maillab-check-panel.maillab-lang-zh").count() > 0
    # A view whose kernel is gone gets ipywidgets' class jupyter-widgets-disconnected (after a restart,
    # or in a reopened notebook): given here to both editions' panels, whose styles are both on the page.
    english = page.locator(".maillab-check-panel.maillab-lang-en").first
    chinese = page.locator(".maillab-check-panel.maillab-lang-zh").first
    for panel in (english, chinese):
        panel.evaluate("el => el.classList.add('jupyter-widgets-disconnected')")
    said, zh_said = english.evaluate(BANNER), chinese.evaluate(BANNER)
    assert tr(TEXT["disconnected"], "en")[:40] in said and not HAN.search(said), said
    assert HAN.search(zh_said), zh_said
    lab.shot("english-panel-disconnected")
