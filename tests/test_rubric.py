"""The rubric file: exactly the registry's items, partial-credit shares checked on load."""

import re
from pathlib import Path

import pytest

from grader.errors import RubricError
from grader.judging.registry import ITEMS, PARTS, SPECS
from grader.rubric import DEFAULT_RUBRIC, load_rubric

TEXT = DEFAULT_RUBRIC.read_text(encoding="utf-8")


def load(tmp_path: Path, text: str):
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    return load_rubric(path)


def edit(pattern: str, replacement: str, count: int = 1) -> str:
    text, done = re.subn(pattern, replacement, TEXT, count=count, flags=re.M)
    assert done == count, pattern
    return text


def item_block(item_id: str) -> str:
    start = TEXT.index(f'id = "{item_id}"\n')
    start = TEXT.rindex("[[items]]", 0, start)
    end = TEXT.find("[[items]]", start + 1)
    end = TEXT.index("\n# ---", start) if end < 0 else end
    return TEXT[start:end]


def test_the_default_rubric_has_exactly_the_registry_items_in_registry_order():
    rubric = load_rubric()
    assert [item.id for item in rubric.items] == [spec.id for spec in ITEMS]
    assert {item.id: item.part for item in rubric.items} == {spec.id: spec.part for spec in ITEMS}
    assert [part.id for part in rubric.parts] == list(PARTS)
    assert rubric.total_points == 15


def test_every_registry_share_has_its_fraction_in_the_rubric_and_nothing_else():
    rubric = load_rubric()
    for item in rubric.items:
        assert [name for name, _ in item.shares] == list(SPECS[item.id].shares), item.id
        assert (item.follow_through > 0) == bool(SPECS[item.id].follow_through), item.id
    assert load_rubric().item("1a").share("m1") == 0.5


def test_an_unknown_item_id_is_an_error_at_load_time(tmp_path):
    text = edit(r'^id = "3b.concepts"$', 'id = "3b.concept"')
    with pytest.raises(RubricError, match="unknown item id '3b.concept'"):
        load(tmp_path, text)


def test_a_missing_item_is_an_error(tmp_path):
    with pytest.raises(RubricError, match=r"missing \['2.2.adam_scaled_step'\]"):
        load(tmp_path, TEXT.replace(item_block("2.2.adam_scaled_step"), ""))


def test_a_repeated_item_is_an_error(tmp_path):
    block = item_block("1a")
    with pytest.raises(RubricError, match=r"repeated \['1a'\]"):
        load(tmp_path, TEXT.replace(block, block + block))


def test_an_item_in_the_wrong_part_is_an_error(tmp_path):
    text = TEXT.replace(item_block("1a"), item_block("1a").replace('part = "1"', 'part = "2"'))
    with pytest.raises(RubricError, match="item 1a belongs to part 1"):
        load(tmp_path, text)


@pytest.mark.parametrize("shares, message", [
    ("", "shares must give m1, v1 in this order, got none"),
    ("shares = { v1 = 0.5, m1 = 0.5 }", "shares must give m1, v1 in this order"),
    ("shares = { m1 = 0.5, v1 = 0.25 }", "shares add up to 0.75, not 1"),
    ("shares = { m1 = 1.5, v1 = -0.5 }", r"share m1 must lie in \(0, 1\]"),
    ('shares = { m1 = "half", v1 = 0.5 }', "share m1 must be a number"),
])
def test_wrong_shares_are_errors(tmp_path, shares, message):
    with pytest.raises(RubricError, match=message):
        load(tmp_path, edit(r"^shares = \{ m1 = 0.5, v1 = 0.5 \}$", shares))


def test_shares_on_an_item_without_partial_credit_are_an_error(tmp_path):
    block = item_block("2.2.adam_scale_factor")
    text = TEXT.replace(block, block.replace("points = 0.5\n", "points = 0.5\nshares = { a = 1 }\n"))
    with pytest.raises(RubricError, match="2.2.adam_scale_factor: it has no partial-credit shares"):
        load(tmp_path, text)


def test_follow_through_only_where_the_registry_has_it_and_in_range(tmp_path):
    block = item_block("1a")
    with pytest.raises(RubricError, match="1a: it has no follow-through credit"):
        load(tmp_path, TEXT.replace(block, block.replace("points = 1\n", "points = 1\nfollow_through = 0.5\n")))
    with pytest.raises(RubricError, match=r"follow_through must lie in \[0, 1\]"):
        load(tmp_path, edit(r"^follow_through = 0.5$", "follow_through = 2"))


def test_points_and_totals_are_checked(tmp_path):
    block = item_block("2.2.adam_scale_factor")
    with pytest.raises(RubricError, match="positive multiple of 0.25"):
        load(tmp_path, TEXT.replace(block, block.replace("points = 0.5", "points = 0.3")))
    with pytest.raises(RubricError, match="part 2: items add up to 5.25"):
        load(tmp_path, TEXT.replace(block, block.replace("points = 0.5", "points = 0.75")))


def test_tolerances_and_limits_are_checked(tmp_path):
    with pytest.raises(RubricError, match="symbolic_points must be >= 20"):
        load(tmp_path, edit(r"^symbolic_points = .*$", "symbolic_points = 5"))
    with pytest.raises(RubricError, match="time limits must be positive"):
        load(tmp_path, edit(r"^call_seconds = .*$", "call_seconds = 0"))


def test_an_unreadable_rubric_is_an_error(tmp_path):
    with pytest.raises(RubricError, match="cannot read rubric"):
        load(tmp_path, "title = [")
