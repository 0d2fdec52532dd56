"""engine.words and engine.guides without Flask: texts that read as English everywhere and are
worded in a reader's language where a catalogue is at hand."""

from __future__ import annotations

import json
import pickle

from callgoose.engine.guides import blocks, translated
from callgoose.engine.words import Joined, Moment, Say, Word, from_data, render, to_data

GERMAN = {"level %(num)s: %(who)s": "Stufe %(num)s: %(who)s", "nobody": "niemand", "high": "hoch",
          "%(name)s by %(method)s": "%(name)s per %(method)s", "email": "E-Mail"}


def test_a_say_reads_as_its_english_and_is_worded_by_a_catalogue():
    text = Say("level %(num)s: %(who)s", num=2,
               who=Joined([Say("%(name)s by %(method)s", name="Ana", method=Word("email")), Say("nobody")], ", "))
    assert text == "level 2: Ana by email, nobody"
    assert json.dumps({"reason": text}) == '{"reason": "level 2: Ana by email, nobody"}'
    assert render(text, lambda m: GERMAN.get(m, m)) == "Stufe 2: Ana per E-Mail, niemand"
    assert render("as it is", GERMAN.get) == "as it is"
    assert render(Word("high"), lambda m: GERMAN.get(m, m), stored=lambda w: f"<{w}>") == "<high>"


def test_a_percent_sign_in_a_value_or_a_plain_message_survives():
    assert Say("100% full") == "100% full"
    assert Say("%(value)s full", value="100%") == "100% full"
    assert render(Say("%(value)s full", value="100%"), lambda m: m) == "100% full"


def test_stored_texts_come_back_worded():
    text = Say("nobody is on call in %(schedule)s from %(start)s", schedule="rota",
               start=Moment(1_796_400_000, "Europe/Berlin"))
    assert text == "nobody is on call in rota from Fri 04 Dec 17:00 CET"
    back = from_data(json.loads(json.dumps(to_data(text))))
    assert back == text and back.msgid == text.msgid
    assert render(back, lambda m: m, moment=lambda m: f"[{m.epoch:.0f} {m.zone}]") == \
        "nobody is on call in rota from [1796400000 Europe/Berlin]"
    assert from_data("plain, as older rows stored it") == "plain, as older rows stored it"
    assert pickle.loads(pickle.dumps(text)).msgid == text.msgid


def test_a_guide_is_cut_at_blank_lines_outside_code_fences():
    guide = "Intro line\nstill intro.\n\n1. Do this:\n\n```yaml\na: 1\n\nb: 2\n```\n\n2. Then that."
    assert blocks(guide) == [("Intro line\nstill intro.", True), ("1. Do this:", True),
                             ("```yaml\na: 1\n\nb: 2\n```", False), ("2. Then that.", True)]
    assert translated(guide, str.upper) == ("INTRO LINE\nSTILL INTRO.\n\n1. DO THIS:\n\n```yaml\na: 1\n\nb: 2\n```"
                                            "\n\n2. THEN THAT.")
