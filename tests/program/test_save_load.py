"""save() writes versioned JSON without secrets; load() is all-or-nothing and names every mismatch."""

from __future__ import annotations

import json

import pytest

import lmdsl
from lmdsl import ChainOfThought, Example, LoadError, Predict, program


@program
class TwoStep:
    def __init__(self):
        self.query = Predict("question -> search_query")
        self.answer = ChainOfThought("question, context: list[str] -> answer: int")

    def forward(self, question):
        return self.answer(question=question, context=[self.query(question=question).search_query])


@program
class TwoStepChanged:
    def __init__(self):
        self.query = Predict("question -> search_query")
        self.answer = ChainOfThought("question, context: list[str] -> answer: float")  # int -> float

    def forward(self, question):
        raise NotImplementedError


def trained() -> TwoStep:
    p = TwoStep()
    p.query.demos = [Example(question="Who wrote Hamlet?", search_query="Hamlet author").with_inputs("question")]
    p.answer.demos = [Example(question="2+2?", context=["math"], reasoning="adds", answer=4)]
    p.answer.signature = p.answer.signature.with_instructions("Answer with a number.")
    return p


def test_save_writes_versioned_json(tmp_path):
    path = trained().save(tmp_path / "sub" / "prog.json", target="examples/x.py:TwoStep", metadata={"score": 0.5})
    data = json.loads(path.read_text())
    assert data["lmdsl"] == {"version": lmdsl.__version__, "format": 1}
    assert data["program"] == "examples/x.py:TwoStep" and data["metadata"] == {"score": 0.5}
    assert list(data["predictors"]) == ["query", "answer"]
    answer = data["predictors"]["answer"]
    assert answer["type"] == "ChainOfThought"
    assert answer["instructions"] == "Answer with a number."
    assert answer["signature_hash"] == TwoStep().answer.signature.structure_hash
    assert answer["demos"] == [{"question": "2+2?", "context": ["math"], "reasoning": "adds", "answer": 4}]
    assert answer["lm"] is None
    assert [p.name for p in path.parent.iterdir()] == ["prog.json"]  # no temp file left behind


def test_save_never_writes_secrets(tmp_path):
    p = trained()
    p.query.lm = lmdsl.LM("openai/gpt-4o-mini", api_key="sk-secret", api_base="https://internal.example")
    text = p.save(tmp_path / "prog.json").read_text()
    assert "sk-secret" not in text and "internal.example" not in text
    assert json.loads(text)["predictors"]["query"]["lm"] == {
        "model": "openai/gpt-4o-mini", "temperature": 0.0, "max_tokens": None
    }


def test_save_load_round_trip(tmp_path):
    path = trained().save(tmp_path / "prog.json")
    fresh = TwoStep()
    assert fresh.load(path) is fresh
    assert fresh.query.demos == [Example(question="Who wrote Hamlet?", search_query="Hamlet author")]
    assert fresh.answer.demos[0].answer == 4
    assert fresh.answer.signature.instructions == "Answer with a number."
    assert list(fresh.answer.signature.outputs) == ["reasoning", "answer"]


def test_load_keeps_a_configured_lm_for_the_same_model(tmp_path):
    p = trained()
    p.query.lm = lmdsl.LM("openai/gpt-4o-mini", api_key="sk-secret")
    path = p.save(tmp_path / "prog.json")

    mine = lmdsl.LM("openai/gpt-4o-mini", api_key="sk-mine")
    target = TwoStep()
    target.query.lm = mine
    target.load(path)
    assert target.query.lm is mine  # not replaced by a copy without the key

    bare = TwoStep().load(path)
    assert bare.query.lm.model == "openai/gpt-4o-mini" and "api_key" not in bare.query.lm.kwargs
    assert bare.answer.lm is None


def test_load_is_all_or_nothing(tmp_path):
    path = trained().save(tmp_path / "prog.json")
    data = json.loads(path.read_text())
    data["predictors"]["answer"]["signature_hash"] = "0" * 16  # the second predictor mismatches
    path.write_text(json.dumps(data))
    target = TwoStep()
    before = (list(target.query.demos), target.query.signature)
    with pytest.raises(LoadError):
        target.load(path)
    assert (target.query.demos, target.query.signature) == before  # the first one was not touched


def test_load_refuses_a_signature_mismatch_naming_it(tmp_path):
    path = trained().save(tmp_path / "prog.json")
    with pytest.raises(LoadError) as info:
        TwoStepChanged().load(path)
    assert str(info.value) == (
        f"{path}: predictor 'answer' has signature Signature(Signature: question: str, context: list[str] -> "
        "reasoning: str, answer: float) but the file was saved for "
        "(question: str, context: list[str] -> reasoning: str, answer: int)"
    )


def test_load_refuses_other_predictor_paths(tmp_path):
    path = trained().save(tmp_path / "prog.json")

    @program
    class Other:
        def __init__(self):
            self.query = Predict("question -> search_query")
            self.steps = [Predict("a -> b")]

        def forward(self):
            pass

    with pytest.raises(LoadError) as info:
        Other().load(path)
    assert str(info.value) == (
        f"{path}: predictors do not match (program predictor(s) not in file: steps[0]; "
        "file predictor(s) not in program: answer)"
    )


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "prog.json"
    path.write_text('{\n  "lmdsl": {"format": 1},\n  "predictors": {,}\n}\n')
    with pytest.raises(LoadError, match=rf"^{path} line 3: not valid JSON \(Expecting property name"):
        TwoStep().load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hello": 1}', "not an lmdsl program file (no 'lmdsl'/'predictors' keys)"),
        ("[1, 2]", "not an lmdsl program file (no 'lmdsl'/'predictors' keys)"),
        ('{"lmdsl": {"format": 99}, "predictors": {}}',
         "file format 99 is newer than this lmdsl understands (1); upgrade lmdsl"),
    ],
)
def test_not_a_program_file(tmp_path, content, message):
    path = tmp_path / "prog.json"
    path.write_text(content)
    with pytest.raises(LoadError) as info:
        TwoStep().load(path)
    assert str(info.value) == f"{path}: {message}"


def test_malformed_entries(tmp_path):
    path = trained().save(tmp_path / "prog.json")
    good = json.loads(path.read_text())
    for change, message in [
        ({"demos": "nope"}, "predictor 'answer': 'demos' must be a list of objects"),
        ({"demos": [1]}, "predictor 'answer': 'demos' must be a list of objects"),
        ({"lm": {"temperature": 0}},
         "predictor 'answer': 'lm' must be null or an object with a 'model' name, got dict {\"temperature\": 0}"),
    ]:
        data = json.loads(json.dumps(good))
        data["predictors"]["answer"].update(change)
        path.write_text(json.dumps(data))
        target = TwoStep()
        with pytest.raises(LoadError) as info:
            target.load(path)
        assert str(info.value) == f"{path}: {message}"
        assert target.query.demos == []


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match=r"nope\.json: no such file$"):
        TwoStep().load(tmp_path / "nope.json")


def test_single_predictor_round_trip(tmp_path):
    p = Predict("question -> answer")
    p.demos = [Example(question="q", answer="a")]
    path = p.save(tmp_path / "p.json")
    assert list(json.loads(path.read_text())["predictors"]) == ["self"]
    q = Predict("question -> answer").load(path)
    assert q.demos == [Example(question="q", answer="a")]


def test_structured_demo_values_are_saved_as_json(tmp_path):
    import pydantic

    class Person(pydantic.BaseModel):
        name: str

    p = Predict("text -> person: dict")
    p.demos = [Example(text="Ada wrote it", person=Person(name="Ada"), tags=("a", "b"))]
    data = json.loads(p.save(tmp_path / "p.json").read_text())
    assert data["predictors"]["self"]["demos"] == [{"text": "Ada wrote it", "person": {"name": "Ada"},
                                                     "tags": ["a", "b"]}]


@program
class Mood:
    def __init__(self):
        self.classify = Predict("text -> mood: Literal['sad', 'happy']")
        self.explain = Predict("text -> why")

    def forward(self, text):
        return self.classify(text=text)


def test_label_bias_round_trips_and_is_absent_when_unset(tmp_path):
    p = Mood()
    p.classify.label_bias = {"sad": 0.0, "happy": 1.25}
    data = json.loads(p.save(tmp_path / "mood.json").read_text())
    assert data["predictors"]["classify"]["label_bias"] == {"sad": 0.0, "happy": 1.25}
    assert "label_bias" not in data["predictors"]["explain"]
    loaded = Mood()
    loaded.load(tmp_path / "mood.json")
    assert loaded.classify.label_bias == {"sad": 0.0, "happy": 1.25} and loaded.explain.label_bias is None


@pytest.mark.parametrize(("predictor", "bias", "message"), [
    ("classify", {"angry": 1.0}, r"unknown label\(s\) 'angry'; labels are 'sad', 'happy'"),
    ("classify", {"sad": "high"}, "'label_bias' must be an object of finite numbers"),
    ("classify", [1.0], "'label_bias' must be an object of finite numbers"),
    ("explain", {"x": 1.0}, "has no single label output"),
])
def test_bad_label_bias_is_refused_naming_the_predictor_and_nothing_changes(tmp_path, predictor, bias, message):
    path = Mood().save(tmp_path / "mood.json")
    data = json.loads(path.read_text())
    data["predictors"][predictor]["label_bias"] = bias
    data["predictors"]["classify"]["demos"] = [{"text": "t", "mood": "sad"}]
    path.write_text(json.dumps(data))
    target = Mood()
    with pytest.raises(LoadError, match=f"predictor '{predictor}': .*{message}"):
        target.load(path)
    assert target.classify.demos == [] and target.classify.label_bias is None
