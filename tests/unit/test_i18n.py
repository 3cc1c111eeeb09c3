"""Learner-facing text is English in the code and can be shown in another language."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from grader import i18n
from grader import course
from grader.i18n import _, speaking, translate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def zh(tmp_path, monkeypatch):
    """A Chinese catalog with two entries, in a locale folder of the test's own."""
    catalog = Catalog(locale="zh_CN", domain="maillab")
    catalog.add("Postfix is running", "Postfix 正在运行")
    catalog.add("{path} is newer than {db}: run `newaliases`", "{path} 比 {db} 新：请运行 `newaliases`")
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "maillab.po", "wb") as handle:
        write_po(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    return "zh"


def test_a_message_reads_as_english_text():
    text = _("{path} is newer than {db}: run `newaliases`", path="/etc/aliases", db="/etc/aliases.db")
    assert text == "/etc/aliases is newer than /etc/aliases.db: run `newaliases`"
    assert isinstance(text, str) and text.msgid.startswith("{path} is newer")


def test_a_message_in_chinese_keeps_its_parameters(zh):
    text = _("{path} is newer than {db}: run `newaliases`", path="/etc/aliases", db="/etc/aliases.db")
    assert translate(text, "zh") == "/etc/aliases 比 /etc/aliases.db 新：请运行 `newaliases`"
    with speaking("zh_CN.UTF-8"):
        assert translate(_("Postfix is running")) == "Postfix 正在运行"
    assert translate(_("Postfix is running")) == "Postfix is running"  # English outside the block


def test_a_missing_translation_falls_back_to_english(zh):
    assert translate(_("no such entry {n}", n=3), "zh") == "no such entry 3"
    assert translate("plain text", "zh") == "plain text"


def test_nested_messages_are_translated_too(zh):
    outer = _("{path} is newer than {db}: run `newaliases`", path=_("Postfix is running"), db="x")
    assert translate(outer, "zh").startswith("Postfix 正在运行 比 x")


def test_language_choice(zh, monkeypatch):
    monkeypatch.delenv("MAILLAB_LANG", raising=False)
    monkeypatch.setenv("LANG", "zh_TW.UTF-8")
    assert i18n.language() == "zh"
    monkeypatch.setenv("MAILLAB_LANG", "en")
    assert i18n.language() == "en"
    monkeypatch.setenv("MAILLAB_LANG", "fr")
    assert i18n.language() == "en"  # no French catalog: English


def _literal_text_calls(tree: ast.AST):
    """Learner-facing arguments that are literal text (or f-strings) instead of _() messages."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "_":
            if not node.args or not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                yield node.lineno, "_() needs a literal string first (no f-string), for extraction"
        elif name in ("check", "Fail"):
            args = list(node.args[:1]) if name == "Fail" else []
            args += [k.value for k in node.keywords if k.arg in ("hint", "title")]
            for arg in args:
                if isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp)) and not (
                        isinstance(arg, ast.Constant) and arg.value is None):
                    yield node.lineno, f"{name}(...) text must be a _() message"


@pytest.mark.parametrize("lab", course.all_labs(), ids=lambda lab: lab.id)
def test_every_learner_facing_text_of_the_checks_can_be_translated(lab):
    tree = ast.parse(lab.checks_file.read_text())
    problems = [f"{lab.checks_file.name}:{line}: {why}" for line, why in _literal_text_calls(tree)]
    assert not problems, "\n".join(problems)
    decorated = [d for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for d in node.decorator_list
                 if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "check"]
    assert decorated and all({"hint", "title"} <= {k.arg for k in d.keywords} for d in decorated), \
        f"every @check of {lab.id} names its title= and hint= as _() messages"


def test_babel_extracts_the_messages_of_the_labs():
    found = {msg for _file, _line, msg, _comments, _context in
             extract_from_dir(str(ROOT), method_map=[("labs/**/checks.py", "python")], keywords={"_": None})}
    assert "Postfix has a main.cf" in found and "The system mail name is {domain}" in found


# -- the notebook: every word a learner reads there can be shown in their language ------------
NOTEBOOK_MODULES = ["panel", "notebook_lab", "quiz", "terminal", "not_open", "shell", "server"]
SHOWN_KEYWORDS = {"description", "tooltip", "value", "placeholder"}  # widget text
SHOWN_CALLS = {"print", "_tell", "_say", "_stop", "say", "LabNotReady", "MachineUnreachable", "HTML"}
_MARKUP = re.compile(r"<[^>]*>|&[#\w]+;")


def _has_words(node: ast.AST) -> bool:
    """Literal text (outside HTML markup) in a string or an f-string; placeholders are not text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts = [node.value]
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
    elif isinstance(node, ast.BinOp):
        return _has_words(node.left) or _has_words(node.right)
    else:
        return False
    return bool(re.search(r"[A-Za-z]{2,}", _MARKUP.sub("", "".join(parts))))


def _untranslated_text(tree: ast.AST):
    import_time = {id(n) for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.ClassDef))
                   for n in ast.walk(top)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args \
                and _has_words(node.exc.args[0]):
            yield node.lineno, "an exception raised with literal text (use _())"
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("tr", "translate") and id(node) in import_time:
                yield node.lineno, f"{name}() at import time (the language is chosen later)"
            texts = [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            if name in SHOWN_CALLS:
                texts += node.args[:1]
            for arg in texts:
                if _has_words(arg):
                    yield node.lineno, f"literal text shown by {name}() (use tr()/_())"
        elif isinstance(node, ast.Assign) and any(getattr(t, "attr", "") in SHOWN_KEYWORDS for t in node.targets):
            if _has_words(node.value):
                yield node.lineno, "literal text put into a widget (use tr())"
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TEXT" for t in node.targets):
            for value in getattr(node.value, "values", []):
                if not (isinstance(value, ast.Call) and getattr(value.func, "id", "") == "N_"):
                    yield value.lineno, "TEXT tables hold N_() messages, looked up with tr() when shown"


@pytest.mark.parametrize("module", NOTEBOOK_MODULES)
def test_every_learner_facing_text_of_the_notebook_can_be_translated(module):
    path = ROOT / "classroom" / "notebook" / f"{module}.py"
    tree = ast.parse(path.read_text())
    problems = [f"{path.name}:{line}: {why}" for line, why in
                [*_literal_text_calls(tree), *_untranslated_text(tree)]]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_untranslated_notebook_text():
    code = ('TEXT = {"a": "Check"}\nlabel = tr(TEXT["a"])\n'
            'def f(w):\n    w.description = "Check"\n    raise LabNotReady(f"The lab {x} is gone")\n'
            '    widgets.Button(description="Submit", tooltip=tr(TEXT["a"]))\n'
            '    w.value = f\'<p class="x">{tr(TEXT["a"])}</p>\'\n')
    found = [line for line, _why in _untranslated_text(ast.parse(code))]
    assert sorted(set(found)) == [1, 2, 4, 5, 6]


# -- the grader core, the CLI and the workshop ---------------------------------------------------
CORE_FILES = sorted([*ROOT.glob("grader/*.py"), *ROOT.glob("classroom/*.py"), *ROOT.glob("workshop/*.py"),
                     *ROOT.glob("sandbox/*.py")])
SENTENCE_RAISERS = {"Fail", "MailLabError", "UsageError", "ChecksError", "GradebookError", "SandboxError",
                    "MachineNotRunning"}


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_core_raises_its_sentences_as_messages(path):
    """A sentence a learner or instructor reads from an error is a _() message, never a literal."""
    tree = ast.parse(path.read_text())
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in SENTENCE_RAISERS and node.args:
            if isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                problems.append(f"{path.name}:{node.lineno}: {node.func.id}(...) text must be a _() message")
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_":  # tr(TABLE[key]) is for tables
            if not node.args or not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                problems.append(f"{path.name}:{node.lineno}: _() needs a literal string first, for extraction")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_function_of_the_core_hides_the_message_function(path):
    """`_` assigned in a function (`a, _ = ...`) would make `_()` there fail: use another name."""
    tree = ast.parse(path.read_text())
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        stores = [n.lineno for n in ast.walk(function) if isinstance(n, ast.Name) and n.id == "_"
                  and isinstance(n.ctx, ast.Store)]
        calls = [n for n in ast.walk(function) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_"]
        assert not (stores and calls), f"{path.name}:{function.name} assigns _ (line {stores[0]}) and calls _()"


def test_babel_extracts_the_messages_of_the_core():
    found = {msg for _file, _line, msg, _comments, _context in
             extract_from_dir(str(ROOT), method_map=[("grader/*.py", "python"), ("classroom/*.py", "python"), ("workshop/**.py", "python")],
                              keywords={"_": None, "N_": None, "tr": None})}
    assert {"Lab {lab}, step {step}: {status} ({passed} of {total} checks passed, {seconds} s)",
            "NOT RUN", "There is no lab called {lab}. The labs are: {known}.", "start or list labs",
            "the following arguments are required: {names}", "deferred (will retry)",
            "No workshop is running here. Start one with `maillab workshop up --seats N`."} <= found


@pytest.fixture
def zh_core(tmp_path, monkeypatch):
    """A small Chinese catalog of core messages; the process speaks Chinese."""
    catalog = Catalog(locale="zh_CN", domain="maillab")
    for english, chinese in {
        "There is no lab called {lab}. The labs are: {known}.": "没有名为 {lab} 的实验。现有的实验有：{known}。",
        "{message} (see `{prog} --help`)": "{message}（参见 `{prog} --help`）",
        "the following arguments are required: {names}": "缺少必需的参数：{names}",
        "start or list labs": "启动或列出实验",
        "FAIL": "未通过", "PASS": "通过", "NOT RUN": "未运行",
        "Lab {lab}, step {step}: {status} ({passed} of {total} checks passed, {seconds} s)":
            "实验 {lab}，步骤 {step}：{status}（{total} 个检查中通过 {passed} 个，用时 {seconds} 秒）",
        "hint: {hint}": "提示：{hint}",
        "{path} does not exist": "{path} 不存在",
        "learner": "学员", "ever": "曾通过", "yes": "是",
    }.items():
        catalog.add(english, chinese)
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "maillab.po", "wb") as handle:
        write_po(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setenv("MAILLAB_LANG", "zh")
    return "zh"


def test_the_cli_says_its_errors_in_the_learners_language(zh_core, capsys, tmp_path, monkeypatch):
    from classroom.cli import EXIT_USAGE, main
    from classroom.gradebook import Gradebook

    Gradebook(tmp_path / "grades.sqlite")
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "grades.sqlite"))
    assert main(["gradebook", "show", "--lab", "no-such-lab"]) == EXIT_USAGE
    said = capsys.readouterr().err
    assert said.startswith("maillab: 没有名为 'no-such-lab' 的实验。现有的实验有：") and "install-postfix" in said
    assert main(["check"]) == EXIT_USAGE  # argparse's own sentence, read back into a message
    assert capsys.readouterr().err == "maillab: 缺少必需的参数：lab（参见 `maillab check --help`）\n"


def test_the_cli_help_is_in_the_learners_language(zh_core, capsys):
    from classroom.cli import build_parser

    assert "启动或列出实验" in build_parser().format_help()


def test_a_step_result_reads_in_the_learners_language(zh_core):
    from grader.result import ItemResult, Status, StepResult

    result = StepResult("lab", "step", [ItemResult("a", "A", Status.PASS), ItemResult("b", "B", Status.FAIL, "x", "y")],
                        duration=1.5)
    assert str(result).splitlines() == ["实验 lab，步骤 step：未通过（2 个检查中通过 1 个，用时 1.50 秒）",
                                        "通过  A", "未通过 B \u2014 x", "  提示：y"]
    assert Status.NOT_RUN.value == "NOT_RUN" and Status.NOT_RUN.label == "未运行"


def test_a_probe_says_what_it_saw_as_a_message(zh_core):
    from grader.testing import FakeBackend
    from grader.host import Host

    seen = Host(FakeBackend()).file("/etc/postfix/main.cf").describe()
    assert seen == "/etc/postfix/main.cf does not exist"  # English in the code and the logs
    assert translate(seen) == "/etc/postfix/main.cf 不存在"  # what the runner shows the learner


def test_the_gradebook_table_keeps_its_columns_in_chinese(zh_core, tmp_path):
    from grader import course
    from classroom.cli import show_gradebook
    from classroom.gradebook import Gradebook
    from grader.result import ItemResult, Status, StepResult, width

    book = Gradebook(tmp_path / "g.sqlite")
    lab = course.find("install-postfix")
    book.record("alice", StepResult(lab.id, "install", [ItemResult("a", "A", Status.PASS)]), kind="check")
    header, first = show_gradebook(book, [lab]).splitlines()[1:3]
    assert header.startswith("学员") and first.startswith("alice")
    # "曾通过" is wider than the English column: the column widens, and the rows with it.
    assert width(header[:header.index("曾通过")]) == width(first[:first.index("是")])


def test_joined_messages_are_each_translated(zh):
    from grader.i18n import joined

    journey = joined(" -> ", [_("Postfix is running"), "mx1"])
    assert journey == "Postfix is running -> mx1"
    assert translate(_("{path} is newer than {db}: run `newaliases`", path=journey, db="x"), "zh") \
        == "Postfix 正在运行 -> mx1 比 x 新：请运行 `newaliases`"
    import pickle

    assert translate(pickle.loads(pickle.dumps(journey)), "zh") == "Postfix 正在运行 -> mx1"
    assert not joined("; ", [])
