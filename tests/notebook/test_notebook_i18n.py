"""The notebook in another language: every label, status word and sentence is looked up when it is
shown, so a Chinese notebook reads Chinese, and an English one reads exactly what it always did."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from grader import i18n
from grader import quiz as quizzes
from grader.errors import MailLabError
from classroom.notebook import LabNotReady, NotebookLab, panel, shell, terminal
from classroom.notebook import notebook_lab, quiz
from classroom.notebook.not_open import NOT_OPEN, LabNotOpen
from grader.result import Status
from notebook_fakes import FakeMachine, FakeSession, step_result

ROOT = Path(__file__).resolve().parents[2]
ROLES_QUIZ = ROOT / "labs" / "01-how-mail-works" / "quiz" / "roles-quiz.toml"


@pytest.fixture
def zh(tmp_path, monkeypatch):
    """A small Chinese catalog of the notebook's own messages, spoken by this process."""
    roles = quizzes.load(ROLES_QUIZ)
    entries = {
        panel.TEXT["check"]: "检查",
        panel.TEXT["reset"]: "重置此步骤",
        panel.TEXT["cancel"]: "取消",
        panel.TEXT["hint"]: "提示：",
        panel.TEXT["disconnected"]: "⚠ 此面板已不再连接到你的实验：请先运行实验的第一个单元格，再运行这个单元格。",
        panel.TEXT["not_checked"]: "尚未检查：完成此步骤后，请按 {check}。",
        panel.STATUS_WORD[Status.FAIL]: "未通过",
        "not passed yet: \u201c{title}\u201d ({passed} of {total} checks passed)":
            "尚未通过：\u201c{title}\u201d（{total} 项检查中通过了 {passed} 项）",
        "Postfix is installed": "Postfix 已安装",
        "Could not {doing}: the grader hit an unexpected problem ({kind}: {error}). "
        "Try again; if it keeps happening, tell your instructor.":
            "无法{doing}：评分程序遇到了意外问题（{kind}: {error}）。请重试；如果问题一再出现，请告诉讲师。",
        "start your lab machine": "启动你的实验机",
        "The lab image is missing: run `maillab build`.": "实验镜像缺失：请运行 `maillab build`。",
        notebook_lab.TEXT["progress"]: "{total} 个步骤中已通过 {passed} 个",
        notebook_lab.TEXT["progress_label"]: "进度：",
        NOT_OPEN: "本笔记本的内核中还没有打开实验：请先运行实验的第一个单元格，再运行这个单元格。",
        shell.NO_MACHINE: "这个笔记本还没有连接实验机：请运行实验的第一个单元格。",
        terminal.TEXT["menu"]: "实验 {lab} 有 {count} 台实验机：",
        terminal.TEXT["unknown"]: "这里没有名为 {answer} 的实验机；请输入 1 到 {count} 之间的编号。",
        quiz.TEXT["submit"]: "提交",
        roles.title: "谁做什么：角色与协议",
        roles.questions[0].text: "Alice 在笔记本电脑上用 Thunderbird 写信并点击发送。Thunderbird 扮演什么角色？",
        roles.questions[0].options["mua"]: "MUA（邮件用户代理）",
    }
    catalog = Catalog(locale="zh_CN", domain="maillab")
    for english, chinese in entries.items():
        catalog.add(english, chinese)
    folder = tmp_path / "locale" / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "maillab.po", "wb") as handle:
        write_po(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    i18n.use("zh")
    yield roles
    i18n.use(None)


def test_a_chinese_panel_reads_chinese(zh):
    shown = panel.CheckPanel(FakeSession(last=step_result(Status.FAIL)), "install", on_reset=lambda s: "")
    assert shown.button.description == "检查" and shown.reset_button.description == "重置此步骤"
    assert shown.confirm_no.description == "取消"
    result = shown.result_area.value
    assert "<strong>未通过</strong>" in result and "\u2718" in result  # the word translated, the icon kept
    assert "尚未通过：\u201cPostfix 已安装\u201d（3 项检查中通过了 1 项）" in result
    assert "<strong>提示：</strong>" in result and "<code>apt-get install postfix</code>" in result
    assert any("此面板已不再连接" in c.value for c in shown.children if hasattr(c, "value"))
    assert "尚未检查：完成此步骤后，请按 <strong>检查</strong>。" in panel.not_checked_html()


def test_the_language_is_chosen_when_text_is_shown_not_when_it_is_imported(zh):
    chinese = panel.CheckPanel(FakeSession(), "install")
    i18n.use("en")
    english = panel.CheckPanel(FakeSession(), "install")
    assert chinese.button.description == "检查" and english.button.description == "Check"
    assert "Not checked yet: press <strong>Check</strong>" in english.result_area.value


def test_a_problem_is_one_chinese_sentence(zh):
    shown = panel.CheckPanel(FakeSession(outcome=KeyError("items")), "install")
    shown.check()
    shown.pending.result(timeout=10)
    assert "评分程序遇到了意外问题（KeyError: &#x27;items&#x27;）" in shown.result_area.value
    assert panel.problem_sentence(RuntimeError("boom"), i18n._("start your lab machine")).startswith(
        "无法启动你的实验机：评分程序遇到了意外问题（RuntimeError: boom）")


def test_lab_not_ready_speaks_the_learners_language_when_shown(zh):
    with pytest.raises(LabNotReady) as raised:
        LabNotOpen().check
    assert raised.value._render_traceback_() == ["本笔记本的内核中还没有打开实验：请先运行实验的第一个单元格，再运行这个单元格。"]
    assert str(raised.value) == NOT_OPEN  # the message itself stays English
    assert repr(LabNotOpen()).startswith("本笔记本的内核中")


def test_a_machine_that_cannot_start_is_one_chinese_sentence(zh, tmp_path):
    session = FakeSession(machine=FakeMachine(root=tmp_path))
    session.start_error = MailLabError(i18n._("The lab image is missing: run `maillab build`."))
    lab = NotebookLab(session)
    assert lab.progress_bar.description == "进度："
    with pytest.raises(LabNotReady) as raised:
        lab.start()
    assert raised.value._render_traceback_() == ["实验镜像缺失：请运行 `maillab build`。"]
    assert "实验镜像缺失" in lab.status.value


def test_the_lab_header_counts_in_chinese(zh, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    lab = NotebookLab(FakeSession(machine=FakeMachine(root=root)), workspace=tmp_path)
    lab.start()
    assert "2 个步骤中已通过 0 个" in lab.progress_text.value


def test_shell_escapes_without_a_machine_say_so_in_chinese(zh, capsys):
    with pytest.raises(shell.MachineUnreachable) as raised:
        shell.machine_argv(["true"])
    shell._tell(raised.value)
    assert "这个笔记本还没有连接实验机" in capsys.readouterr().err


def test_the_terminal_asks_in_chinese(zh):
    machines = [SimpleNamespace(name=n, hostname=n, domain="example.test") for n in ("mail", "mx2")]
    said = []
    answers = iter(["7", "2"])
    chosen = terminal.choose(machines, "backup-mx", ask=lambda _q: next(answers), say=said.append)
    assert chosen.name == "mx2"
    assert "实验 backup-mx 有 2 台实验机：" in said
    assert "这里没有名为 '7' 的实验机；请输入 1 到 2 之间的编号。" in said


def test_the_quiz_shows_its_texts_from_the_catalog(zh):
    lab = SimpleNamespace(session=SimpleNamespace(lab=SimpleNamespace(dir=ROLES_QUIZ.parent.parent)))
    widget = quiz.QuizWidget(lab, "roles-quiz", zh)
    texts = [getattr(child, "value", "") for child in widget.box.children]
    assert "<h4>谁做什么：角色与协议</h4>" in texts
    assert any("Alice 在笔记本电脑上用 Thunderbird 写信" in t for t in texts)
    first = widget.choices[zh.questions[0].id]
    assert ("MUA（邮件用户代理）", "mua") in first.options  # the option id the grader reads is kept
    assert widget.button.description == "提交"
