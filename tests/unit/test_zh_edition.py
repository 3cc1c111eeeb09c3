"""The Chinese edition: every lab notebook has a Chinese twin with the same cells and checks, and
every message of the grader and the labs has a Chinese translation."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from grader import i18n
from grader import course
from grader.i18n import _, translate
from classroom.notebook import home

ROOT = Path(__file__).resolve().parents[2]
OPEN_LAB = re.compile(r'open_lab\("([a-z0-9-]+)"(, lang="(?:zh|en)")?\)')
STEP_CALL = re.compile(r'lab\.[a-z_]+\(\s*"([a-z0-9-]+)"')
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code(source: str) -> list[str]:
    """Code as the twins must share it: open_lab without its language, and no full-line comments
    (a Chinese comment is a translation, not a change)."""
    source = OPEN_LAB.sub(r'open_lab("\1")', source)
    return [line for line in source.splitlines()
            if not (line.lstrip().startswith("#") and not line.lstrip().startswith("#!"))]


@pytest.mark.parametrize("lab", course.all_labs(), ids=lambda lab: lab.id)
def test_every_lab_notebook_has_a_chinese_twin_with_the_same_cells_and_checks(lab):
    twin = lab.dir / "lab.zh.ipynb"
    assert twin.is_file(), f"{lab.id} has no Chinese notebook ({twin.name})"
    english, chinese = _cells(lab.notebook), _cells(twin)
    assert [(c["cell_type"], c.get("id")) for c in chinese] == [(c["cell_type"], c.get("id")) for c in english]
    for en, zh in zip(english, chinese):
        if en["cell_type"] == "code":
            assert _code(_source(zh)) == _code(_source(en)), f"{lab.id}: code cell {en.get('id')} differs"
            assert zh.get("metadata") == en.get("metadata")
        elif _source(en).strip():
            assert HAN.search(_source(zh)), f"{lab.id}: markdown cell {en.get('id')} is not translated"
    opened = [m for c in chinese if c["cell_type"] == "code" for m in OPEN_LAB.finditer(_source(c))]
    assert opened and all(m.group(1) == lab.id and m.group(2) for m in opened), \
        f'{lab.id}: the Chinese notebook opens its lab with lang="zh"'
    steps = {s.id for s in lab.steps}
    for cells in (english, chinese):
        called = {m.group(1) for c in cells if c["cell_type"] == "code" for m in STEP_CALL.finditer(_source(c))}
        assert steps <= called, f"{lab.id}: a notebook does not check every step"


def _message_ids() -> set[str]:
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    return {msg for _file, _line, msg, _comments, _context in
            extract_from_dir(str(ROOT), method_map, options_map, keywords={"_": None, "N_": None, "tr": None})
            if isinstance(msg, str) and msg}


def test_every_message_has_a_chinese_translation():
    ids = _message_ids()
    assert len(ids) > 900  # the labs, their quiz and lab.toml texts, the grader, the notebooks, the CLI
    catalog = i18n.catalog("zh")
    missing = sorted(m for m in ids if not catalog.get(m))
    assert not missing, f"{len(missing)} messages have no Chinese translation:\n" + "\n".join(missing)


def test_every_chinese_translation_keeps_its_placeholders_and_commands():
    wrong = [msgid for msgid, text in i18n.catalog("zh").items()
             if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))
             or sorted(re.findall(r"`[^`]*`", msgid)) != sorted(re.findall(r"`[^`]*`", text))]
    assert not wrong, "translations that lost a placeholder or a `command`:\n" + "\n".join(wrong)


def test_the_course_speaks_chinese():
    assert "zh" in i18n.available()
    assert translate(_("not run: an earlier check did not pass"), "zh") != "not run: an earlier check did not pass"
    lab = course.find("install-postfix")
    assert HAN.search(i18n.tr(lab.title, "zh")) and HAN.search(i18n.tr(lab.steps[0].title, "zh"))


def test_the_chinese_edition_names_its_notebooks_beside_the_english_ones():
    english, chinese = home.course_notebooks(), home.course_notebooks("zh")
    assert [n for _s, n in chinese] == [n.replace(".ipynb", ".zh.ipynb") for _s, n in english]
    assert all(source.name == "lab.zh.ipynb" for source, _n in chinese)
    assert home.home_name("zh") == "00-course-home.zh.ipynb" and home.home_name("en") == home.HOME_NOTEBOOK


def test_every_edition_sits_side_by_side_in_the_workspace():
    names = [name for _source, name in home.every_edition()]
    assert "02-install-postfix.ipynb" in names and "02-install-postfix.zh.ipynb" in names
    assert len(names) == len(set(names)) == 2 * len(course.all_labs())


def test_each_course_home_speaks_its_language_and_links_to_the_other(tmp_path, monkeypatch):
    from classroom.notebook.server import write_homes

    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    write_homes(tmp_path)
    english = json.loads((tmp_path / "00-course-home.ipynb").read_text())["cells"]
    chinese = json.loads((tmp_path / "00-course-home.zh.ipynb").read_text())["cells"]
    assert "(00-course-home.zh.ipynb)" in english[0]["source"] and HAN.search(english[0]["source"])
    assert "This course in English: [the course home](00-course-home.ipynb)" in chinese[0]["source"]
    assert chinese[1]["source"].endswith('course_home(lang="zh")')
    drawn = chinese[1]["outputs"][0]["data"]["text/html"]
    assert 'href="02-install-postfix.zh.ipynb"' in drawn and i18n.tr("Install Postfix", "zh") in drawn
    assert 'href="02-install-postfix.ipynb"' in english[1]["outputs"][0]["data"]["text/html"]


def test_the_chosen_language_is_kept_with_the_learner(tmp_path, monkeypatch):
    from classroom import session

    monkeypatch.setenv("MAILLAB_HOME", str(tmp_path))
    monkeypatch.setenv("MAILLAB_LEARNER", "lang-test")
    for name in ("MAILLAB_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert i18n.language() == "en"
    session.save_language("zh")
    assert session.saved_language() == "zh" and i18n.language() == "zh"
    monkeypatch.setenv("MAILLAB_LANG", "en")  # the environment still decides first
    assert i18n.language() == "en"


def test_up_refuses_a_language_the_course_does_not_have(capsys):
    from classroom.cli import main

    assert main(["up", "--lang", "fr", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "no 'fr' edition" in err and "en, zh" in err


def test_the_sandboxs_sentences_are_shown_in_chinese():
    import pickle

    from sandbox.errors import MachineNotRunning
    from sandbox.errors import _ as sandbox_text

    exc = MachineNotRunning(sandbox_text("Machine {name} is not running: start it with `maillab lab start`.",
                                         name="ada--install-postfix--mail"))
    assert str(exc) == "Machine ada--install-postfix--mail is not running: start it with `maillab lab start`."
    assert i18n.say(exc, "zh") == "实验机 ada--install-postfix--mail 没有在运行：请用 `maillab lab start` 启动它。"
    assert i18n.say(pickle.loads(pickle.dumps(exc)), "zh") == i18n.say(exc, "zh")
