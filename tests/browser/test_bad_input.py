"""Rough handling in a real browser: Check clicked twice, a machine stopped behind the notebook's
back, a kernel restart. Each ends in a plain sentence in the notebook, never a traceback."""
from __future__ import annotations

import pytest

from .jupyterlab import Lab
from .test_learner_flow import CHECK_INSTALL, attempts, wait_for_attempt

pytestmark = pytest.mark.machine

NOTEBOOK = "02-install-postfix.ipynb"


def open_lab_with_a_panel(lab: Lab):
    """The lab notebook with its first cell and the install check cell run; returns the panel."""
    lab.open(NOTEBOOK)
    lab.run(lab.cell_with("open_lab("))
    lab.run(lab.cell_with(CHECK_INSTALL))
    panel = lab.cell_with(CHECK_INSTALL).locator(".maillab-check-panel").first
    lab.page.wait_for_function("p => /FAIL/.test(p.textContent)", arg=panel.element_handle())
    return panel


def wait_until_idle_panel(lab: Lab, panel, text: str) -> str:
    lab.page.wait_for_function(
        "([p, text]) => !p.querySelector('button.maillab-check .fa-spinner') && p.textContent.includes(text)",
        arg=[panel.element_handle(), text], timeout=60_000)
    return panel.inner_text()


def no_traceback(lab: Lab) -> None:
    shown = lab.notebook.inner_text()
    assert "Traceback" not in shown and "NameError" not in shown


def test_check_clicked_twice_quickly_runs_one_check(course, browser, lab02, tmp_path):
    lab = Lab(browser.new_page(), course, tmp_path)
    panel = open_lab_with_a_panel(lab)
    before = attempts(lab02, "install")
    panel.locator("button.maillab-check").dblclick()
    wait_for_attempt(lab, lab02, "install", before)
    shown = wait_until_idle_panel(lab, panel, "FAIL")
    assert attempts(lab02, "install") == before + 1
    assert "Hint:" in shown
    no_traceback(lab)
    lab.shot("double-click")


def test_a_machine_stopped_behind_the_notebooks_back_is_explained(course, browser, lab02, tmp_path):
    lab = Lab(browser.new_page(), course, tmp_path)
    panel = open_lab_with_a_panel(lab)
    lab02.stop()  # as `maillab down` in another terminal would
    panel.locator("button.maillab-check").click()
    shown = wait_until_idle_panel(lab, panel, "Problem")
    assert "Your lab machine is not running" in shown and "Run the lab's first cell" in shown
    lab.shot("machine-stopped")
    no_traceback(lab)
    # Doing what the sentence says works.
    lab.run(lab.cell_with("open_lab("))
    assert lab02.started()
    panel.locator("button.maillab-check").click()
    lab.page.wait_for_function("p => /FAIL/.test(p.textContent) && !/Problem/.test(p.textContent)",
                               arg=panel.element_handle(), timeout=60_000)


def test_a_reopened_notebook_shows_the_last_result(course, browser, lab02, tmp_path):
    lab = Lab(browser.new_page(), course, tmp_path)
    open_lab_with_a_panel(lab)
    lab.page.keyboard.press("Control+s")
    lab.page.locator(".lm-TabBar-tab.lm-mod-current:not(.jp-mod-dirty)").first.wait_for()
    lab.page.close()

    lab = Lab(browser.new_page(), course, tmp_path)
    lab.open(NOTEBOOK)  # nothing is run this time
    panel = lab.cell_with(CHECK_INSTALL).locator(".maillab-check-panel").first
    lab.page.wait_for_function("p => /FAIL/.test(p.textContent) && /Hint:/.test(p.textContent)",
                               arg=panel.element_handle())
    lab.shot("reopened")
    no_traceback(lab)


def test_a_kernel_restart_is_explained(course, browser, lab02, tmp_path):
    lab = Lab(browser.new_page(), course, tmp_path)
    panel = open_lab_with_a_panel(lab)
    page = lab.page
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel").first.click()
    page.locator(".jp-Dialog button", has_text="Restart").click()
    lab.wait_idle()
    # The old panel says in words that it is cut off, and what to do.
    page.wait_for_function(
        "p => getComputedStyle(p, '::before').content.includes(\"run the lab's first cell, then this cell again\")",
        arg=panel.element_handle())
    lab.shot("after-restart")
    lab.run(lab.cell_with(CHECK_INSTALL))
    output = lab.cell_with(CHECK_INSTALL).locator(".jp-OutputArea").first
    assert "The lab is not open in this notebook's kernel" in output.inner_text()
    assert "run the lab's first cell" in output.inner_text()
    lab.shot("check-after-restart")
    no_traceback(lab)
