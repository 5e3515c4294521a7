"""Datasets: JSONL / JSON-list rows with file-and-line errors, Examples keyed by forward inputs."""

from __future__ import annotations

import pytest

from lmdsl import DataError, Example
from lmdsl.data import load_examples, load_jsonl, read_rows, to_examples


def write(tmp_path, text: str | bytes, name: str = "rows.jsonl"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_rows_keep_their_line_numbers(tmp_path):
    path = write(tmp_path, '{"a": 1}\n\n  \n{"a": 2}\n')
    assert read_rows(path) == [(1, {"a": 1}), (4, {"a": 2})]


def test_json_list(tmp_path):
    path = write(tmp_path, '  [{"a": 1},\n {"a": 2}]', "rows.json")
    assert read_rows(path) == [(1, {"a": 1}), (2, {"a": 2})]


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, '\ufeff{"a": 1}\n{"a": 2}\n'.encode())
    assert read_rows(path) == [(1, {"a": 1}), (2, {"a": 2})]
    path = write(tmp_path, '\ufeff[{"a": 1}]'.encode(), "rows.json")
    assert read_rows(path) == [(1, {"a": 1})]


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": 1}\n{"a": oops}\n', r"line 2: invalid JSON \(Expecting value at column 7\)$"),
    ('{"a": 1}\n[1, 2]\n', r"line 2: expected a JSON object, got list$"),
    ('{"a": 1}\n"text"\n', r"line 2: expected a JSON object, got str$"),
    ("\n\n", r": no rows$"),
    ("", r": no rows$"),
])
def test_jsonl_errors_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="^" + str(path).replace("\\", "\\\\") + " ?" + message):
        read_rows(path)


@pytest.mark.parametrize(("text", "message"), [
    ('[{"a": 1},\n {"a": }]', r" line 2: invalid JSON \(Expecting value\)$"),
    ('[{"a": 1}, 3]', r" item 2: expected a JSON object, got int$"),
    ("[]", r": no rows$"),
])
def test_json_list_errors(tmp_path, text, message):
    path = write(tmp_path, text, "rows.json")
    with pytest.raises(DataError, match="^" + str(path) + message):
        read_rows(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: no such file$"):
        read_rows(tmp_path / "nope.jsonl")
    path = write(tmp_path, b'{"a": "\xff"}\n')
    with pytest.raises(DataError, match=r"rows\.jsonl: not UTF-8 text \(invalid start byte at byte 7\)$"):
        read_rows(path)
    with pytest.raises(DataError, match=r": is a directory, not a data file$"):
        read_rows(tmp_path)


def test_rows_become_examples_with_forward_inputs(tmp_path):
    path = write(tmp_path, '{"question": "q1", "hint": "h", "answer": "a1"}\n{"question": "q2", "answer": "a2"}\n')
    examples = load_examples(path, ["question"], ["hint"])
    assert examples[0].input_keys == {"question", "hint"}
    assert examples[1].input_keys == {"question"}
    assert examples[0].labels().to_dict() == {"answer": "a1"}


def test_a_row_missing_an_input_names_the_file_line_and_keys(tmp_path):
    path = write(tmp_path, '{"question": "q1", "answer": "a"}\n\n{"qestion": "q2", "answer": "b"}\n')
    with pytest.raises(DataError) as info:
        load_examples(path, ["question"], ["hint"])
    assert str(info.value) == (f"{path} line 3: missing input 'question' (the program's forward takes "
                               "question, hint; row has qestion, answer)")


def test_to_examples_accepts_dicts_and_examples():
    marked = Example(question="q0", answer="a0").with_inputs("question", "answer")
    plain = Example(question="q1", answer="a1")
    out = to_examples([marked, plain, {"question": "q2", "answer": "a2"}], ["question"], [], "mod.trainset")
    assert out[0] is marked  # already marked: kept as is
    assert [e.input_keys for e in out[1:]] == [{"question"}, {"question"}]
    with pytest.raises(DataError, match=r"^mod\.trainset line 2: missing input 'question'"):
        to_examples([{"question": "q"}, {"answer": "a"}], ["question"], [], "mod.trainset")


def test_load_jsonl_with_limit_and_rename(tmp_path):
    path = write(tmp_path, "".join(f'{{"sentence": "s{i}", "label": "l{i}"}}\n' for i in range(5)))
    examples = load_jsonl(path, inputs=["text"], limit=2, rename={"sentence": "text"})
    assert [e.to_dict() for e in examples] == [{"text": "s0", "label": "l0"}, {"text": "s1", "label": "l1"}]
    assert all(e.input_keys == {"text"} for e in examples)
