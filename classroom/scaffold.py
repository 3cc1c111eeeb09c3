"""`maillab lab new NAME`: a new lab folder with one complete, small step to change into your own.

The step is real: a fresh machine FAILS it (no /etc/mailname), its reference solution makes it PASS,
and `maillab selftest NAME` proves both. docs/AUTHORING.md walks through it.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

from grader.errors import UsageError
from grader.i18n import _
from grader.course import ID, all_labs, labs_dir

LAB_TOML = '''id = "{id}"
title = "{title}"
summary = "Give the machine its mail name."

[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"

[[steps]]
id = "mailname"
title = "Give the machine its mail name"
fresh_fails = "mail_name_is_the_lab_domain"
promise = "Every program that writes mail on the machine names example.test as its domain: /etc/mailname holds exactly that name."
'''

CHECKS = '''"""Checks of lab {number:02d}, {id}. Each check is a small function of the step it names; it reads the
machine through `host` and raises Fail with what it saw, or returns what it saw."""
from grader import Fail, _, check

DOMAIN = "example.test"


@check(step="mailname", title=_("The system mail name is {{domain}}", domain=DOMAIN),
       hint=_("The system mail name is the domain of your addresses, {{domain}}: "
              "write it to /etc/mailname (`echo {{domain}} > /etc/mailname`).", domain=DOMAIN))
def mail_name_is_the_lab_domain(host):
    """/etc/mailname, read from outside the machine (a link out of it is never followed)."""
    mailname = host.file("/etc/mailname")
    if not mailname.is_file:
        raise Fail(_("/etc/mailname does not exist"))
    name = mailname.text.strip()
    if name != DOMAIN:
        raise Fail(_("/etc/mailname says {{name}}", name=repr(name)))
    return _("/etc/mailname says {{name}}", name=DOMAIN)
'''

SOLVE = "#!/bin/bash\n# The reference solution of step mailname (run as root inside the machine by `maillab solve`).\n" \
        "set -e\necho example.test > /etc/mailname\n"

NOTEBOOK = {
    "en": ["# Lab {number:02d} · {title}\n\nRun the next cell to start your machine.",
           "## Step 1 · Give the machine its mail name\n\n"
           "Programs that write mail read the machine's mail name from `/etc/mailname`. Make it `example.test`:\n"
           "look at the file in the Terminal, then change it. Check your work with the cell after that.",
           "# Your commands: here (with %%bash) or in the Terminal\n"],
    "zh": ["# 实验 {number:02d} · {title}\n\n运行下一个单元格，启动你的机器。",
           "## 第 1 步 · 给机器设置邮件名\n\n"
           "写邮件的程序从 `/etc/mailname` 读取机器的邮件名。把它设为 `example.test`：\n"
           "先在终端里查看这个文件，然后修改它。再用后面的单元格检查你的结果。",
           "# 你的命令：写在这里（用 %%bash）或在终端里运行\n"],
}


def _notebook(lab_id: str, number: int, title: str, lang: str) -> nbformat.NotebookNode:
    intro, step, act = NOTEBOOK[lang]
    nb = v4.new_notebook(metadata={
        "kernelspec": {"display_name": "MailLab (Python 3)", "language": "python", "name": "maillab"},
        "language_info": {"name": "python"}, "maillab": {"lab": lab_id}})
    nb.cells = [v4.new_markdown_cell(intro.format(number=number, title=title)),
                v4.new_code_cell(f'from classroom.notebook import open_lab\nlab = open_lab("{lab_id}")'),
                v4.new_markdown_cell(step),
                v4.new_code_cell(act),
                v4.new_code_cell('lab.check("mailname")')]
    return nb


def new_lab(lab_id: str, title: str | None = None) -> Path:
    """Make labs/NN-ID (NN: after the last lab) with lab.toml, checks.py, solve/, both notebooks."""
    if not ID.match(lab_id):
        raise UsageError(_("A lab id uses lower-case letters, digits and dashes, e.g. `spam-defence`."))
    existing = all_labs()
    if any(lab.id == lab_id for lab in existing):
        raise UsageError(_("There is already a lab called {lab}.", lab=lab_id))
    number = max((lab.number for lab in existing), default=0) + 1
    folder = labs_dir() / f"{number:02d}-{lab_id}"
    title = title or lab_id.replace("-", " ").capitalize()
    folder.mkdir(parents=True)
    (folder / "lab.toml").write_text(LAB_TOML.format(id=lab_id, title=title.replace('"', "'")))
    (folder / "checks.py").write_text(CHECKS.format(id=lab_id, number=number))
    (folder / "solve").mkdir()
    (folder / "solve" / "mailname.sh").write_text(SOLVE)
    for lang, name in (("en", "lab.ipynb"), ("zh", "lab.zh.ipynb")):
        nbformat.write(_notebook(lab_id, number, title, lang), str(folder / name))
    return folder
