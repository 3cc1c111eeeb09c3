"""Lab folders are data: a good one loads, a wrong one is named with what is wrong."""
from pathlib import Path

import pytest

from grader import course
from grader.check import load_checks
from grader.errors import MailLabError, UsageError
from classroom.layers import solve_scripts

GOOD = """
id = "demo"
title = "Demo"
[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"
[[steps]]
id = "one"
title = "One"
[[steps]]
id = "two"
title = "Two"
"""


def write(tmp_path: Path, text: str, folder="05-demo") -> Path:
    d = tmp_path / folder
    d.mkdir()
    (d / "lab.toml").write_text(text)
    return d


def test_a_good_lab_loads(tmp_path):
    lab = course.load(write(tmp_path, GOOD))
    assert (lab.id, lab.number, [s.id for s in lab.steps]) == ("demo", 5, ["one", "two"])
    assert lab.machine().hostname == "mail" and lab.step_index("two") == 1


@pytest.mark.parametrize("text, words", [
    ("id = ", "is not valid TOML"),
    ('title = "no id"\n[[steps]]\nid="a"\ntitle="A"', "not a valid lab description"),
    (GOOD.replace('id = "two"', 'id = "one"'), "two steps have the same id"),
    (GOOD.replace('id = "two"', 'id = "Two Words"'), "lower-case letters"),
    (GOOD + '\nunknown_key = 1\n[[steps]]\nid="x"\ntitle="X"\ncolour="red"', "not a valid lab description"),
])
def test_a_wrong_lab_toml_is_named(tmp_path, text, words):
    folder = write(tmp_path, text)
    with pytest.raises(MailLabError) as caught:
        course.load(folder)
    assert words in str(caught.value) and str(folder / "lab.toml") in str(caught.value)


def test_unknown_step_and_machine_list_the_known_ones(tmp_path):
    lab = course.load(write(tmp_path, GOOD))
    with pytest.raises(UsageError, match="Its steps are: one, two"):
        lab.step("three")
    with pytest.raises(UsageError, match="Its machines are: mail"):
        lab.machine("mail2")


def test_every_course_lab_is_complete():
    """Each lab has a notebook, and every step has checks with hints and a reference solution."""
    for lab in course.all_labs():
        checks = load_checks(lab.checks_file)
        assert lab.notebook.is_file(), lab.id
        for step in lab.steps:
            assert checks.get(step.id), f"{lab.id}/{step.id} has no checks"
            assert all(c.hint for c in checks[step.id])
            assert any(solve_scripts(lab, step.id, m.name) for m in lab.machines), \
                f"{lab.id}/{step.id} has no solve script"
            if step.fresh_fails:
                assert step.fresh_fails in [c.name for c in checks[step.id]]
        import nbformat
        sources = "\n".join(c.source for c in nbformat.read(lab.notebook, as_version=4).cells)
        for step in lab.steps:
            assert f'lab.check("{step.id}")' in sources, f"{lab.id}: no check cell for {step.id}"


def _pool_lab(tmp_path, draw=2, faults=("a-one", "b-two", "c-three")):
    folder = write(tmp_path, GOOD + f"\n[pool]\ndraw = {draw}\n")
    for fault in faults:
        (folder / "faults" / fault).mkdir(parents=True)
        (folder / "faults" / fault / "plant.sh").write_text("true\n")
    return course.load(folder)


def test_a_pool_draw_is_the_learners_own_and_the_same_every_time(tmp_path):
    lab = _pool_lab(tmp_path, draw=2, faults=("a-one", "b-two", "c-three", "d-four", "e-five"))
    assert lab.pool == ("a-one", "b-two", "c-three", "d-four", "e-five") and lab.draw == 2
    draws = {name: course.variant_for(lab, name) for name in ("ana", "ben", "chen", "dara", "eli", "fay")}
    assert all(course.variant_for(lab, name) == v for name, v in draws.items())  # the same after a reset
    assert len({v.drawn for v in draws.values()}) > 1 and len({v.seed for v in draws.values()}) == 6
    assert all(len(v.drawn) == 2 and list(v.drawn) == sorted(v.drawn) for v in draws.values())
    assert course.variant_for(lab, "ana", drawn=("e-five",)).drawn == ("e-five",)
    with pytest.raises(UsageError, match="no fault"):
        course.variant_for(lab, "ana", drawn=("z-none",))
    assert b"MAILLAB_DRAWN='" in draws["ana"].script_prefix()


def test_a_workshops_secret_salt_changes_every_seed(tmp_path, monkeypatch):
    """With the salt a workshop keeps in root's state folder, a draw cannot be worked out from the
    source and a name; the same salt gives the same draw again."""
    lab = _pool_lab(tmp_path, draw=2, faults=("a-one", "b-two", "c-three", "d-four", "e-five"))
    monkeypatch.setenv("MAILLAB_HOME", str(tmp_path / "home"))
    plain = course.variant_for(lab, "ana")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / course.DRAW_SALT).write_text("0123456789abcdef\n")
    salted = course.variant_for(lab, "ana")
    assert salted.seed != plain.seed and course.variant_for(lab, "ana") == salted


def test_covering_draws_hold_every_fault_of_the_pool(tmp_path):
    lab = _pool_lab(tmp_path, draw=2)
    draws = course.covering_draws(lab)
    assert all(len(d) == 2 for d in draws) and {f for d in draws for f in d} == set(lab.pool)
    assert course.variant_for(course.load(write(tmp_path, GOOD, "06-plain")), "ana") is None  # the same for all


@pytest.mark.parametrize("draw", [0, 4, "two"])
def test_a_wrong_draw_is_named(tmp_path, draw):
    with pytest.raises(MailLabError, match="draw"):
        _pool_lab(tmp_path, draw=draw if isinstance(draw, int) else '"two"')


def test_lab_12_probes_every_fault_of_its_pool():
    lab = course.find("troubleshooting")
    load_checks(lab.checks_file)  # it loads
    source = lab.checks_file.read_text()
    for fault in lab.pool:
        assert f'"{fault}": Fault(' in source, f"no probe for {fault}"
        assert (lab.dir / "faults" / fault / "repair.sh").is_file(), f"{fault} has no repair"
    assert len(lab.pool) >= 12 and lab.draw == 5
