"""StepResult: its status, and its text, HTML and JSON surfaces."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from grader.result import ItemResult, Status, StepResult

P = ItemResult("postfix_is_installed", "Postfix is installed", Status.PASS,
               "postfix 3.7.11-0+deb12u1 is installed", None, 0.12)
F = ItemResult("postfix_is_running", "Postfix is running", Status.FAIL,
               "no master process", "Start Postfix: `service postfix start`.", 0.05)
E = ItemResult("port_25_listens", "Port 25 listens", Status.ERROR,
               "The command `ss -ltnpH` did not finish within 10 s and was stopped.",
               "Try the check again.", 10.0)
N = ItemResult("later", "Later", Status.NOT_RUN, "not run: an earlier check did not pass")


def result(*items):
    return StepResult("02-install-postfix", "install", items, "2026-11-30T05:40:01+00:00", 0.4)


def test_status_of_a_step():
    assert result(P, P).status is Status.PASS and result(P, P).passed
    assert result(P, F, N).status is Status.FAIL
    assert result(P, F, E).status is Status.ERROR
    assert result().status is Status.NOT_RUN
    assert result(N, N).status is Status.NOT_RUN
    assert result(P, N).status is Status.NOT_RUN and not result(P, N).passed
    assert result(P, F, N).first_problem is F
    assert result(P).first_problem is None


def test_terminal_text():
    text = str(result(P, F, N))
    lines = text.splitlines()
    assert lines[0] == "Lab 02-install-postfix, step install: FAIL (1 of 3 checks passed, 0.40 s)"
    assert lines[1] == "PASS  Postfix is installed \u2014 postfix 3.7.11-0+deb12u1 is installed"
    assert lines[2] == "FAIL  Postfix is running \u2014 no master process"
    assert lines[3] == "  hint: Start Postfix: `service postfix start`."
    assert lines[4].startswith("NOT RUN Later")
    assert len(lines) == 5  # no hint is shown for passed or not-run items


def test_html_escapes_learner_controlled_text_and_shows_status_words():
    evil = ItemResult("c", "Title <b>", Status.FAIL,
                      'main.cf says: <script>alert("x")</script> & `rm -rf`',
                      "Run `postconf -e 'a=<b>'`.", 0.1)
    page = result(evil).to_html()
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in page
    assert "<code>postconf -e &#x27;a=&lt;b&gt;&#x27;</code>" in page
    assert "FAIL" in page and "\u2718" in page  # a word and an icon, not colour alone
    assert result(evil)._repr_html_() == page


def test_json_round_trip():
    original = result(P, F, N)
    data = json.loads(original.to_json())
    assert data["status"] == "FAIL" and data["items"][1]["hint"].startswith("Start Postfix")
    assert StepResult.from_json(original.to_json()) == original
    assert StepResult.from_dict(original.to_dict()) == original


def test_a_stored_status_is_not_trusted():
    data = result(P, F).to_dict()
    data["status"] = "PASS"
    assert StepResult.from_dict(data).status is Status.FAIL


text = st.text(max_size=40)
items = st.builds(ItemResult, name=text, title=text, status=st.sampled_from(list(Status)),
                  detail=text, hint=st.none() | text,
                  duration=st.floats(min_value=0, max_value=1e4, allow_nan=False))


@given(st.builds(StepResult, lab=text, step=text, items=st.lists(items, max_size=5),
                 started_at=text, duration=st.floats(min_value=0, max_value=1e4)))
def test_any_result_survives_json(original):
    assert StepResult.from_json(original.to_json()) == original
    assert "<script" not in original.to_html().replace("&lt;script", "")
