"""The quiz as data: loading, reading a learner's answers file, and grading with mix-up hints."""
import pytest

from grader import course
from grader import quiz as quizzes
from grader.errors import MailLabError


@pytest.fixture
def roles():
    return quizzes.load(course.find("how-mail-works").dir / "quiz" / "roles-quiz.toml")


def test_the_course_quiz_loads_and_every_wrong_option_has_a_hint(roles):
    assert roles.answers_file == "/root/answers/roles-quiz.json"
    for question in roles.questions:
        assert set(question.mixups) == set(question.options) - {question.answer}, question.id


def test_model_answers_pass(roles):
    assert quizzes.grade(roles, roles.model_answers()).passed


def test_a_wrong_answer_gives_its_mixup(roles):
    answers = {**roles.model_answers(), "handoff": "smtp"}
    graded = quizzes.grade(roles, answers)
    assert not graded.passed and len(graded.wrong) == 1
    mistake = graded.wrong[0]
    assert mistake.number == roles.number("handoff") and mistake.chosen_text == "SMTP"
    assert "hand-off" in mistake.hint


def test_unanswered_and_unknown_options(roles):
    answers = {**roles.model_answers(), "writer": "xyz"}
    del answers["relay"]
    graded = quizzes.grade(roles, answers)
    assert graded.unanswered == (roles.number("relay"),) and graded.not_an_option == ((1, "xyz"),)


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 3}', "writer = mua"])
def test_an_answers_file_that_is_not_ours(text):
    with pytest.raises(ValueError):
        quizzes.parse_answers(text)


def test_a_quiz_whose_answer_is_not_an_option_is_refused(tmp_path):
    path = tmp_path / "q.toml"
    path.write_text('answers_file = "/x"\n[[questions]]\nid = "a"\ntext = "?"\nanswer = "z"\n'
                    '[questions.options]\ny = "Y"\n')
    with pytest.raises(MailLabError, match="answer among its options"):
        quizzes.load(path)
