"""The bot's sections in a body it shares with people (the model card in a promotion pull request): replaced in
place, the rest of the body untouched, cut to fit GitHub's limit, carried over when the bot rewrites its text."""

from __future__ import annotations

from bot.github.markers import BODY_LIMIT, SECTION_LIMIT, sections_of, with_section, without_sections


def test_a_section_is_appended_once_then_replaced_where_it_stands() -> None:
    body = "<!-- modelbot:m:s:promotion -->\nWritten by a person.\n"
    one = with_section(body, "m:s:card", "card v1")
    assert one.startswith(body.rstrip("\n")) and one.count("card v1") == 1
    two = with_section(with_section(one, "m:t:card", "other"), "m:s:card", "card v2")
    assert "card v1" not in two and two.index("card v2") < two.index("other")
    assert with_section(two, "m:s:card", "card v2") == two
    assert without_sections(two) == body.rstrip("\n") and without_sections(two) + sections_of(two) == two
    edited = "A person rewrote this." + sections_of(two)
    assert with_section(edited, "m:s:card", "card v2") == edited


def test_a_section_is_cut_to_fit_and_the_person_s_text_never() -> None:
    person = "x" * (BODY_LIMIT - 10_000)
    body = with_section(person, "m:s:card", "line\n" * 20_000)
    assert len(body) <= BODY_LIMIT and body.startswith(person) and "**Cut**" in body
    short = with_section("", "m:s:card", "y\n" * 40_000)
    assert len(short) <= SECTION_LIMIT + 100
