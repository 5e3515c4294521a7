"""Quiz generation with assertions (the DSPy Assertions paper's QuizGen, on HotPotQA).

    lmdsl compile examples/quiz.py:Quiz                 # assertion-aware bootstrapping
    lmdsl run examples/quiz.py:Quiz --question "..." --answer "..."

From a trivia question and its correct answer, the model writes the answer options of a
multiple-choice quiz as one line of JSON with a fixed shape (the paper's "answer choices",
plus the answer key)::

    {"options": ["...", "...", "...", "..."], "answer": "C"}

Plain code states what a valid quiz is, and the program corrects itself when a rule is
broken (see docs/assertions.md):

* ``Assert``: the reply is a JSON object (otherwise nothing else can be checked);
* ``Suggest``: it has exactly that shape -- four options and a letter A-D;
* ``Suggest``: the four options are different from each other;
* ``Suggest``: the correct answer is one of the options.

On a failure the generator is asked again with its previous reply and the broken rules
in the prompt; after ``max_backtracks`` re-runs a Suggest lets the program go on and an
Assert raises ``lmdsl.AssertionFailed`` (a failed example when evaluating or compiling).

``metric`` (the task score) is a *usable* quiz: the shape, four distinct options, and the
key letter pointing at the correct answer (which no rule checks directly).
``suggestions_passed`` is the intrinsic measure: the final quiz meets all four rules.

On the embedded 135M model, a decoding grammar makes the reply start with
``{"options": ["`` (the model otherwise answers in prose); everything after that -- valid
JSON, the shape, distinct options, the key -- is up to the model and the assertions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lmdsl
from lmdsl import Assert, Predict, Prediction, Suggest, program, signature
from lmdsl.data import load_jsonl
from lmdsl.evaluate import normalize_text

DATA = Path(__file__).parent / "data"
LETTERS = ("A", "B", "C", "D")
# llama.cpp only (other models ignore it): the reply line starts with '{"options": ["'.
QUIZ_GRAMMAR = 'root ::= "Quiz: {\\"options\\": [\\"" [^\\n]+'


@signature
def make_quiz(question: str, answer: str) -> str:
    """Write the four answer options of a multiple-choice quiz question, as one line of JSON.

    The options are the correct answer and three plausible wrong answers, all different, in any
    order; "answer" is the letter (A, B, C or D) of the correct option.

    Args:
        question: a trivia question.
        answer: its correct answer.

    Returns:
        quiz: a JSON object with "options" (a list of four different answers) and "answer" (the letter of the correct one).
    """


def parse_quiz(text: str) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object, "") or (None, why it is not one)."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at character {exc.pos}"
    if not isinstance(value, dict):
        return None, f"it is a JSON {type(value).__name__}, not an object"
    return value, ""


def shape_problem(quiz: dict[str, Any] | None) -> str:
    """"" when the quiz has the required shape, else what is wrong."""
    if quiz is None:
        return "it is not a JSON object"
    if set(quiz) != {"options", "answer"}:
        return f'the keys must be exactly "options" and "answer" (got {", ".join(map(repr, quiz)) or "none"})'
    options = quiz["options"]
    if not isinstance(options, list) or len(options) != 4:
        n = len(options) if isinstance(options, list) else type(options).__name__
        return f'"options" must be a list of exactly 4 answers (got {n})'
    if not all(isinstance(o, str) and o.strip() for o in options):
        return '"options" must all be non-empty strings'
    if quiz["answer"] not in LETTERS:
        return f'"answer" must be the letter A, B, C or D (got {quiz["answer"]!r})'
    return ""


def options_distinct(quiz: dict[str, Any] | None) -> bool:
    options = quiz.get("options") if isinstance(quiz, dict) else None
    if not isinstance(options, list):
        return False
    normalized = [normalize_text(o) for o in options]
    return len(set(normalized)) == len(normalized)


def answer_included(quiz: dict[str, Any] | None, answer: str) -> bool:
    options = quiz.get("options") if isinstance(quiz, dict) else None
    return isinstance(options, list) and normalize_text(answer) in {normalize_text(o) for o in options}


def key_correct(quiz: dict[str, Any] | None, answer: str) -> bool:
    if shape_problem(quiz):
        return False
    assert quiz is not None
    return normalize_text(quiz["options"][LETTERS.index(quiz["answer"])]) == normalize_text(answer)


@program
class Quiz:
    def __init__(self) -> None:
        self.generate = Predict(make_quiz, grammar=QUIZ_GRAMMAR, max_tokens=128)

    def forward(self, question: str, answer: str):
        raw = self.generate(question=question, answer=answer).quiz
        quiz, why = parse_quiz(raw)
        Assert(quiz is not None, f"The quiz must be valid JSON ({why}).", name="valid JSON")
        problem = shape_problem(quiz)
        Suggest(not problem, f"Follow the format exactly: {problem}.", name="shape")
        Suggest(options_distinct(quiz), "The four options must all be different.", name="distinct options")
        Suggest(answer_included(quiz, answer), f'The correct answer "{answer}" must be one of the options.',
                name="answer included")
        return Prediction(question=question, quiz=quiz, raw=raw)


# ---- scores ------------------------------------------------------------------------------
def usable_quiz(example: Any, prediction: Any, trace: Any = None) -> bool:
    """Task score: the quiz has the shape, four distinct options, and its key is the correct answer."""
    quiz = prediction.quiz
    return not shape_problem(quiz) and options_distinct(quiz) and key_correct(quiz, example.answer)


def rules_met(example: Any, prediction: Any, trace: Any = None) -> float:
    """The share of the four rules the program states (JSON, shape, distinct, included) that the output meets."""
    quiz = prediction.quiz
    rules = [quiz is not None, not shape_problem(quiz), options_distinct(quiz), answer_included(quiz, example.answer)]
    return sum(rules) / len(rules)


def suggestions_passed(example: Any, prediction: Any, trace: Any = None) -> bool:
    """Intrinsic score: the output meets all four rules."""
    return rules_met(example, prediction) == 1.0


metric = usable_quiz


# ---- data --------------------------------------------------------------------------------
def load_pairs(split: str, limit: int | None = None) -> list[lmdsl.Example]:
    """HotPotQA question/answer pairs (yes/no questions make poor 4-option quizzes: skipped)."""
    rows = load_jsonl(DATA / f"hotpotqa_{split}.jsonl", inputs=["question", "answer"])
    pairs = [lmdsl.Example(question=r.question, answer=r.answer).with_inputs("question", "answer")
             for r in rows if normalize_text(r.answer) not in {"yes", "no"}]
    return pairs[:limit] if limit is not None else pairs


# Three hand-written quizzes (for train pairs outside ``trainset``): shown to the teacher when
# bootstrapping (``BootstrapFewShot(metric, teacher=teacher())``) so that a 135M model writes
# some usable quizzes to learn from; the compiled program's demos are still its own outputs.
GOLD = [
    {"question": "Which is a type of gun dog, the Labrador Retriever or the Tibetan Terrier?",
     "answer": "Labrador Retriever",
     "quiz": {"options": ["Tibetan Terrier", "Labrador Retriever", "Shih Tzu", "Pomeranian"], "answer": "B"}},
    {"question": "Castle Hill is a plantation near what primary residence of Thomas Jefferson?",
     "answer": "Monticello",
     "quiz": {"options": ["Mount Vernon", "Montpelier", "Monticello", "Poplar Forest"], "answer": "C"}},
    {"question": 'Which came to market first, "Hey Pa! There\'s a Goat on the Roof" or "Poleconomy"',
     "answer": "Hey Pa! There's a Goat on the Roof",
     "quiz": {"options": ["Hey Pa! There's a Goat on the Roof", "Poleconomy", "Monopoly", "Cluedo"], "answer": "A"}},
]


def gold_demos() -> list[lmdsl.Example]:
    return [lmdsl.Example(question=g["question"], answer=g["answer"], quiz=json.dumps(g["quiz"], ensure_ascii=False))
            .with_inputs("question", "answer") for g in GOLD]


def teacher() -> Quiz:
    """The program with the hand-written quizzes as demos (a teacher for bootstrapping)."""
    program = Quiz()
    program.generate.demos = gold_demos()
    return program


trainset = [ex for ex in load_pairs("train") if ex.question not in {g["question"] for g in GOLD}][:20]
_dev = load_pairs("dev")
valset = _dev[:20]  # the optimizer scores candidates on these
devset = _dev[20:]  # held out from compiling: `lmdsl evaluate` reports on these
