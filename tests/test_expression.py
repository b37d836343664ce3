"""Logical expressions: the parser's grouping rules and errors, and their evaluation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamkit.engine.logic import evaluate, true_without_matches
from clamkit.signatures.expression import expression_indexes, parse_expression
from clamkit.signatures.model import And, Count, Or, SignatureError, SubRef

S0, S1, S2, S3 = SubRef(0), SubRef(1), SubRef(2), SubRef(3)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("0", S0),
        ("(0)", S0),
        ("((0))", S0),
        (" 0 & 1", And((S0, S1))),
        ("0&1&2", And((S0, S1, S2))),
        ("(0&1&2&3)", And((S0, S1, S2, S3))),
        # Outside parentheses the first operator splits: right-nested.
        ("0&1|2", And((S0, Or((S1, S2))))),
        ("0|1&2", Or((S0, And((S1, S2))))),
        # Directly inside a group the last operator splits: left-nested.
        ("(0&1|2)", Or((And((S0, S1)), S2))),
        ("(0|1&2)", And((Or((S0, S1)), S2))),
        ("0=2", Count(S0, "=", 2)),
        ("0>1,2", Count(S0, ">", 1)),  # ',Y' means nothing on one subsignature
        ("0<3", Count(S0, "<", 3)),
        ("0&1>50", And((S0, Count(S1, ">", 50)))),
        ("(0|1)>5,2", Count(Or((S0, S1)), ">", 5, 2)),
        ("(0|1)=1,0", Count(Or((S0, S1)), "=", 1)),
        ("((0|1|2)>5,2)&(3|1)", And((Count(Or((S0, S1, S2)), ">", 5, 2), Or((S3, S1))))),
        ("((0|1)>1|2)=3", Count(Or((Count(Or((S0, S1)), ">", 1), S2)), "=", 3)),
        # The reference reads numbers like C's %u.
        ("01", S1),
        ("0x", S0),
        ("0=1,", Count(S0, "=", 1)),
        ("0=-1", Count(S0, "=", 2**32 - 1)),
        ("0=1=1", Count(S0, "=", 1)),
        ("(0|1)=1,2,3", Count(Or((S0, S1)), "=", 1, 2)),
    ],
)
def test_grouping_follows_the_reference(text: str, tree: object) -> None:
    assert parse_expression(text, 4) == tree


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("0&&1", "no left operand"),
        ("0&", "no right operand"),
        ("(0|)", "no right operand"),
        ("0=", "missing number after '='"),
        ("0=x", "missing number after '='"),
        ("(0|1)>,1", "missing number after '>'"),
        ("(0|1", "unbalanced '('"),
        ("0|1)", "unbalanced ')'"),
        ("(0=1)=1", "unbalanced ')'"),
        ("(0)>1", "unbalanced ')'"),
        ("((0|1))>1", "unbalanced ')'"),
        ("(0|1)>1x", "unbalanced ')'"),
        ("(0|1)>1 ", "unbalanced ')'"),
        ("0()1", "stray parenthesis"),
        ("x", "cannot parse"),
        ("4", "refers to subsignature 4"),
        ("0|9", "refers to subsignature 9"),
    ],
)
def test_malformed_expressions_are_refused(text: str, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)):
        parse_expression(text, 4)


def test_all_counted_demands_the_last_subsignature_be_referenced() -> None:
    assert parse_expression("0&2", 3, all_counted=True) == And((S0, S2))
    with pytest.raises(SignatureError, match="3 subsignatures given"):
        parse_expression("0&1", 3, all_counted=True)


def test_expression_indexes() -> None:
    assert expression_indexes(parse_expression("((0|3)>1,2)&1", 4)) == {0, 1, 3}


@pytest.mark.parametrize(
    ("text", "true_for", "false_for"),
    [
        ("0", [(1,)], [(0,)]),
        ("0=0", [(0,)], [(1,)]),
        ("0=2", [(2,)], [(1,), (3,)]),
        ("0>1", [(2,)], [(1,)]),
        ("0<2", [(0,), (1,)], [(2,)]),
        ("0&1", [(1, 1)], [(1, 0), (0, 1)]),
        ("0|1", [(1, 0), (0, 1)], [(0, 0)]),
        ("(0|1)=2", [(2, 0), (1, 1), (0, 2)], [(1, 0), (3, 0)]),
        ("(0|1)>1,2", [(1, 1), (2, 1)], [(3, 0), (0, 3)]),
        # A false '&' contributes nothing, so its count is 0.
        ("(0&1)=2", [(1, 1)], [(2, 0), (1, 2)]),
        ("(0&1)=0", [(0, 0), (3, 0)], [(1, 1)]),
        ("(0|1)<3", [(0, 0), (2, 0)], [(2, 1)]),
        # '0=0' succeeds with count 0 yet counts as a contributing subsignature.
        ("(0=0|1)>0,2", [(0, 1)], [(0, 0), (1, 1)]),
        # A group modifier passes its sum on but not its contributors.
        ("((0|1)>0|2)>0,1", [(0, 0, 1), (1, 0, 1)], [(1, 0, 0), (2, 2, 0)]),
        ("((0|1)>1)&2", [(2, 0, 1), (1, 1, 1)], [(1, 0, 1), (2, 0, 0)]),
        ("((0|1)=2|2)=3", [(1, 1, 1), (0, 0, 3)], [(1, 1, 0), (2, 0, 2)]),
    ],
)
def test_evaluation(
    text: str, true_for: list[tuple[int, ...]], false_for: list[tuple[int, ...]]
) -> None:
    expression = parse_expression(text, 3)
    for counts in true_for:
        assert evaluate(expression, counts), counts
    for counts in false_for:
        assert not evaluate(expression, counts), counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", False),
        ("0&1", False),
        ("0=0", True),
        ("0<4", True),
        ("0=0&1", False),
        ("0=0|1", True),
        ("(0|1)<3", True),
        ("(0|1)=0", True),
        ("(0&1)=0,1", False),
        ("(0|1)>0", False),
    ],
)
def test_true_without_matches(text: str, expected: bool) -> None:
    assert true_without_matches(parse_expression(text, 2)) is expected


def _reference_semantics(text: str, counts: tuple[int, ...]) -> bool:
    """A direct, unoptimised reading of the rules in clamkit.engine.logic's docstring."""

    def walk(node: object) -> tuple[bool, int, set[int]]:
        if isinstance(node, SubRef):
            count = counts[node.index]
            return (True, count, {node.index}) if count else (False, 0, set())
        if isinstance(node, Count):
            if isinstance(node.operand, SubRef):
                count = counts[node.operand.index]
                held = {"=": count == node.value, ">": count > node.value}.get(
                    node.operator, count < node.value
                )
                return (True, count, {node.operand.index}) if held else (False, 0, set())
            truth, total, ids = walk(node.operand)
            if not truth:
                total, ids = 0, set()
            held = {"=": total == node.value, ">": total > node.value}.get(
                node.operator, total < node.value
            )
            if held and len(ids) >= (node.distinct or 0):
                return True, total, set()
            return False, 0, set()
        assert isinstance(node, And | Or)
        parts = [walk(operand) for operand in node.operands]
        truth = all(p[0] for p in parts) if isinstance(node, And) else any(p[0] for p in parts)
        if not truth:
            return False, 0, set()
        return True, sum(p[1] for p in parts if p[0]), set().union(*(p[2] for p in parts if p[0]))

    return walk(parse_expression(text, len(counts)))[0]


_ATOMS = st.sampled_from(["0", "1", "2", "0=1", "1>1", "2<2", "0=0"])


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(_ATOMS)
    operator = draw(st.sampled_from("&|"))
    operands = [draw(_expressions(depth + 1)) for _ in range(draw(st.integers(2, 3)))]
    body = "(" + operator.join(operands) + ")"
    if draw(st.booleans()):
        body += draw(st.sampled_from(["=", ">", "<"])) + str(draw(st.integers(0, 4)))
        if draw(st.booleans()):
            body += "," + str(draw(st.integers(1, 3)))
    return body


@given(_expressions(), st.tuples(*[st.integers(0, 3)] * 3))
def test_evaluate_agrees_with_a_plain_reading(text: str, counts: tuple[int, int, int]) -> None:
    expression = parse_expression(text, 3)
    assert evaluate(expression, counts) == _reference_semantics(text, counts)
