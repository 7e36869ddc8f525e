"""Answers: a label -> answer mapping checked against a model's labels."""

from __future__ import annotations

import pytest

from ftevals.errors import FtevalsError
from ftevals.runtime.answers import Answers

LABELS = ["hate", "none", "self_harm", "sexual_content"]


def test_mapped_labels_answer_their_text_and_the_others_themselves() -> None:
    answers = Answers.checked({"hate": "H", "sexual_content": "S, S3"}, LABELS, "m")
    assert answers.of("hate") == "H"
    assert answers.of("sexual_content") == "S, S3"
    assert answers.of("self_harm") == "self_harm"
    assert Answers.checked(None, LABELS, "m").of("hate") == "hate"
    assert Answers().mapping == {}


def test_a_key_that_is_not_a_label_is_one_clear_error() -> None:
    with pytest.raises(FtevalsError) as info:
        Answers.checked({"hate": "H", "harassment": "HR", "Self_Harm": "SH"}, LABELS, "clf")
    message = str(info.value)
    assert message == (
        "answers of clf: 'harassment', 'Self_Harm' are not labels of the model "
        "(labels: hate, none, self_harm, sexual_content)"
    )
    with pytest.raises(FtevalsError, match="'violence' is not a label of the model"):
        Answers.checked({"violence": "V"}, LABELS, "clf")


@pytest.mark.parametrize("value", [None, 3, "", ["H"]])
def test_an_answer_must_be_text(value: object) -> None:
    with pytest.raises(FtevalsError, match="the answer of 'hate' must be a non-empty text"):
        Answers.checked({"hate": value}, LABELS, "clf")


def test_not_a_mapping() -> None:
    with pytest.raises(FtevalsError, match="expected a mapping label -> answer text, got list"):
        Answers.checked(["hate"], LABELS, "clf")  # type: ignore[arg-type]
