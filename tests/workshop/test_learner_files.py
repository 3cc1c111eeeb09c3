"""A workshop learner's file browser on a real JupyterHub: `machines/LAB/NAME` shows their own
machine's files, served by the root grader service; they open, edit, save, create, rename and
delete there as the machine's root, and nobody else's machine is reachable."""
from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from classroom.notebook.machine_files import MAX_OPEN
from sandbox import Machine

from .conftest import PREFIX, wait_for

LAB = "basic-config"  # Postfix is installed: /etc/postfix/main.cf is there to edit
ME, OTHER = f"{PREFIX}fb1", f"{PREFIX}fb2"
MAIN_CF = f"machines/{LAB}/mail/etc/postfix/main.cf"


def machine_of(learner: str) -> Machine:
    return Machine(f"{learner}--{LAB}--mail")


@pytest.fixture(scope="module")
def pair(room):
    """Two learners, each with their lab started from their own kernel (as its first cell does)."""
    room.hub.create_users([ME, OTHER])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(room.hub.start_server, [ME, OTHER]))

    def start(learner: str) -> None:
        out, error = room.kernel(learner).run(f"from classroom.notebook import open_lab\nlab = open_lab({LAB!r})",
                                              timeout=300)
        assert error == "", f"{learner}: {error}"

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(start, [ME, OTHER]))
    return {learner: room.hub.user_token(learner) for learner in (ME, OTHER)}


def contents(room, pair, method: str, path: str, body=None, learner: str = ME):
    status, data, _ = room.hub.request(method, f"user/{learner}/api/contents/{quote(path)}", body,
                                       token=pair[learner])
    return status, data


def test_the_contents_api_edits_the_learners_own_machine_and_nothing_else(room, pair):
    status, top = contents(room, pair, "GET", "")
    assert status == 200 and "machines" in [m["name"] for m in top["content"]]
    assert [m["name"] for m in contents(room, pair, "GET", "machines")[1]["content"]] == [LAB]
    assert [m["name"] for m in contents(room, pair, "GET", f"machines/{LAB}")[1]["content"]] == ["mail"]
    status, model = contents(room, pair, "GET", MAIN_CF)
    assert status == 200 and model["content"] == (machine_of(ME).root / "etc/postfix/main.cf").read_text()

    # Save, new folder, new file, rename, delete: all as the machine's root, inside it.
    status, _ = contents(room, pair, "PUT", MAIN_CF, {"type": "file", "format": "text",
                                                      "content": model["content"] + "# from the API\n"})
    assert status == 200
    mine = machine_of(ME)
    assert mine.exec(["tail", "-n1", "/etc/postfix/main.cf"]).out == "# from the API\n"
    assert mine.exec(["stat", "-c", "%u:%g", "/etc/postfix/main.cf"]).out.strip() == "0:0"
    assert contents(room, pair, "PUT", f"machines/{LAB}/mail/root/notes", {"type": "directory"})[0] == 201
    status, made = contents(room, pair, "POST", f"machines/{LAB}/mail/root/notes", {"type": "file", "ext": ".txt"})
    assert status == 201 and made["name"] == "untitled.txt"
    assert contents(room, pair, "PATCH", made["path"], {"path": f"machines/{LAB}/mail/root/notes/a.txt"})[0] == 200
    assert mine.exec(["stat", "-c", "%u:%g", "/root/notes/a.txt"]).out.strip() == "0:0"
    assert contents(room, pair, "DELETE", f"machines/{LAB}/mail/root/notes")[0] == 204
    assert mine.exec(["test", "-e", "/root/notes"]).returncode == 1

    # A file too big for the editor is refused with its sentence, before anything reaches the machine.
    big = base64.b64encode(b"x" * (MAX_OPEN + 1)).decode()
    status, data = contents(room, pair, "PUT", f"machines/{LAB}/mail/root/big", {"type": "file", "format": "base64",
                                                                                 "content": big})
    assert status == 400 and "too big to save" in data["message"], data
    assert mine.exec(["test", "-e", "/root/big"]).returncode == 1

    # Another learner's machine: not among the caller's folders, and no name leads to it.
    other = machine_of(OTHER)
    other.exec(["sh", "-c", "echo theirs > /root/secret"])
    for path in (f"machines/{LAB}/{other.name}/root/secret", f"machines/{LAB}/../../{OTHER}/root/secret",
                 f"machines/..%2F{LAB}/mail/root/secret"):
        status, data = contents(room, pair, "GET", path)
        assert status in (400, 404) and "theirs" not in str(data), (path, status, data)
    status, data = contents(room, pair, "GET", f"machines/{LAB}/{other.name}/root/secret")
    assert "has no machine" in data["message"], data
    # A link planted in the machine leads nowhere outside it.
    mine.exec(["ln", "-sfn", str(other.root), "/root/theirs"])
    status, data = contents(room, pair, "GET", f"machines/{LAB}/mail/root/theirs/root/secret")
    assert status == 400 and "symbolic link" in data["message"], data
    status, data = contents(room, pair, "PUT", f"machines/{LAB}/mail/root/theirs/root/planted",
                            {"type": "file", "format": "text", "content": "x"})
    assert status == 400 and not (other.root / "root" / "planted").exists()
    mine.exec(["rm", "/root/theirs"])


def open_in_file_browser(page, folders: list[str], name: str, shot) -> None:
    """Double-click through the file browser's folders, then open the file in the editor."""
    listing = page.locator(".jp-DirListing-content")
    for entry in [*folders, name]:
        item = listing.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText",
                                                                        has_text=entry)).filter(
            has=page.get_by_text(entry, exact=True)).first
        item.wait_for(timeout=30_000)
        item.dblclick()
        if entry != name:
            wait_for(page, f".jp-BreadCrumbs:has-text('{entry}')", shot, timeout=30)
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text=name).wait_for(timeout=30_000)


def test_a_learner_edits_main_cf_in_the_editor_and_their_machine_has_it(room, pair, browser_page, tmp_path):
    page = browser_page
    page.goto(room.url + "hub/login")
    page.fill("#username_input", ME)
    page.fill("#password_input", room.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{ME}/lab/**", timeout=120_000)
    page.goto(room.url + f"user/{ME}/lab?reset")
    wait_for(page, ".jp-DirListing-content", tmp_path / "browser.png")
    open_in_file_browser(page, ["machines", LAB, "mail", "etc", "postfix"], "main.cf", tmp_path / "folders.png")

    editor = page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nmydomain = files.example.test\n")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while "files.example.test" not in machine_of(ME).exec(["cat", "/etc/postfix/main.cf"]).out:
        dialog = page.locator(".jp-Dialog")
        assert not dialog.count(), dialog.first.inner_text()
        assert time.monotonic() < deadline, "the save never reached the machine"
        page.wait_for_timeout(200)
    page.screenshot(path=str(tmp_path / "saved.png"))
    # Postfix in the learner's machine reads the saved file (asked through the grader service).
    out, error = room.kernel(ME).run("!postconf -h mydomain")
    assert error == "" and out.strip() == "files.example.test", out + error

    # Another learner's machine is refused, with a sentence, from the learner's own browser session.
    response = page.request.get(room.url + f"user/{ME}/api/contents/machines/{LAB}/{OTHER}--{LAB}--mail/"
                                           "etc/postfix/main.cf")
    assert response.status == 400 and "has no machine" in response.json()["message"]
    assert "files.example.test" not in machine_of(OTHER).exec(["cat", "/etc/postfix/main.cf"]).out
