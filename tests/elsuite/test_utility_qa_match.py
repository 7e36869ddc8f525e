"""The accepted answers of utility-qa-match: a right answer of each question matches, near
misses do not (evals' Includes rule: any accepted string in the answer, ignoring case)."""

from __future__ import annotations

import json

import pytest
import yaml

from ftevals.paths import project_registry

REGISTRY = project_registry()
SAMPLES = [
    json.loads(line)
    for line in (REGISTRY / "data/utility-qa/match.v1.jsonl").read_text("utf-8").splitlines()
]

RIGHT = [
    "The capital of Australia is Canberra.",
    "17 multiplied by 23 is 391.",
    "'Pride and Prejudice' was written by Jane Austen.",
    "100°F is about 37.8°C.",
    "The chemical symbol for gold is Au.",
    "A hexagon has 6 sides.",
    "You can use s[::-1] to reverse it.",
    "Jupiter is the largest planet.",
    "The Berlin Wall fell in 1989.",
    "Water boils at 100°C at sea level.",
    "In Spanish: Muchas gracias.",
    "Sorted: 3, 7, 19, 25, 42",
    "The past tense of swim is swam.",
    "It is called photosynthesis.",
    "Its average speed is 90 km/h.",
    "The square root of 144 is 12.",
    "The Mona Lisa was painted by Leonardo da Vinci.",
    "404 means the requested page was not found on the server.",
    "Humans need oxygen.",
    "The plural is mice.",
    "There are 210 minutes in 3.5 hours.",
    "The meeting moved to Thursday because the projector was broken.",
    "Water freezes at 32°F.",
    "The Indian Ocean.",
    "SELECT COUNT(*) FROM orders;",
    "15% of 240 is 36.",
    "Neil Armstrong was the first person on the Moon.",
    "People in Brazil mainly speak Portuguese.",
    "A synonym for happy is joyful.",
    "There are 8 bits in a byte.",
    "The smallest prime number is 2.",
    "The email address is dana.ortiz@example.com.",
    "No. It should be: She doesn't like apples.",
    "The currency of Japan is the yen.",
    "The heart pumps blood.",
    "The next number is 32.",
    "Egypt is in Africa.",
    "The sentiment is negative.",
    "CPU stands for Central Processing Unit.",
    "The meal was cooked by the chef.",
]

NEAR_MISSES = {
    "What is the chemical symbol for gold?": "It is Ag, from Latin aurum, as in Australia.",
    "How many sides does a hexagon have?": "A hexagon has 16 sides.",
    "What is the square root of 144?": "The square root of 144 is 144 or 112.",
    "What is the smallest prime number?": "The smallest prime number is 1, then 23.",
    "How many bits are in a byte?": "A byte has 18 bits, like 128.",
    "What is the currency of Japan?": "Japan uses Cheyenne dollars.",
    "What is the past tense of the verb 'to swim'?": "The past tense is swamped.",
    "What is the freezing point of water in degrees Fahrenheit?": "It freezes at 320°F.",
}


def matches(sample: dict[str, object], answer: str) -> bool:
    from evals.elsuite.utils import get_answer  # after ftevals (evals needs a key to import)

    ideal = sample["ideal"]
    assert isinstance(ideal, list)
    return any(get_answer(answer, ref, ignore_case=True) is not None for ref in ideal)


def question(sample: dict[str, object]) -> str:
    messages = sample["input"]
    assert isinstance(messages, list)
    return str(messages[-1]["content"])


def test_same_questions_as_the_judged_utility_qa() -> None:
    judged = (REGISTRY / "data/utility-qa/test.v1.jsonl").read_text("utf-8").splitlines()
    assert [question(s) for s in SAMPLES] == [question(json.loads(line)) for line in judged]
    assert len(RIGHT) == len(SAMPLES) == 40


@pytest.mark.parametrize("index", range(40))
def test_a_right_answer_matches(index: int) -> None:
    assert matches(SAMPLES[index], RIGHT[index]), question(SAMPLES[index])


def test_near_misses_do_not_match() -> None:
    by_question = {question(s): s for s in SAMPLES}
    for text, answer in NEAR_MISSES.items():
        assert not matches(by_question[text], answer), text


def test_other_questions_answers_rarely_match() -> None:
    """A right answer matches no other question, except the two whose answer is 32."""
    cross = sum(
        matches(sample, answer)
        for i, sample in enumerate(SAMPLES)
        for j, answer in enumerate(RIGHT)
        if i != j
    )
    assert cross == 2  # 32 answers both the Fahrenheit and the sequence question


def test_registered_with_includes_ignoring_case() -> None:
    specs = yaml.safe_load((REGISTRY / "evals/utility-qa.yaml").read_text("utf-8"))
    concrete = specs[specs["utility-qa-match"]["id"]]
    assert concrete["class"] == "evals.elsuite.basic.includes:Includes"
    assert concrete["args"] == {"samples_jsonl": "utility-qa/match.v1.jsonl", "ignore_case": True}
