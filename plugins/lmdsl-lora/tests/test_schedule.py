"""The training budget: epochs from the example count, the held-back slice, early stopping (no training)."""

from __future__ import annotations

import math

import pytest

from lmdsl_lora import finetune_lora
from lmdsl_lora.schedule import (
    MAX_AUTO_EPOCHS,
    MAX_HOLDOUT,
    TARGET_PRESENTATIONS,
    EarlyStopping,
    auto_epochs,
    eval_interval,
    split_holdout,
)


def test_small_sets_get_more_epochs_than_large_ones():
    assert auto_epochs(46) == MAX_AUTO_EPOCHS  # 400 / 46 = 8.7, capped
    assert auto_epochs(100) == 4 and auto_epochs(200) == 2 and auto_epochs(400) == 1 and auto_epochs(5000) == 1
    for n in (60, 130, 250):
        assert auto_epochs(n) * n >= TARGET_PRESENTATIONS > (auto_epochs(n) - 1) * n


def row(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"s{i}"}, {"role": "assistant", "content": "positive"}]


def test_holdout_takes_distinct_rows_and_keeps_every_copy_of_them_out_of_training():
    rows = [row(i) for i in range(40)] + [row(i) for i in range(5)] * 3  # rows 0-4 oversampled 4x
    train, held = split_holdout(rows, 0.1, seed=0)
    assert len(held) == 4 and len({str(r) for r in held}) == 4  # 10 % of 40 distinct rows, once each
    assert not {str(r) for r in held} & {str(r) for r in train}
    assert len(train) + sum(rows.count(r) for r in held) == len(rows)
    assert split_holdout(rows, 0.1, seed=0) == (train, held)
    assert any(split_holdout(rows, 0.1, seed=s)[1] != held for s in range(1, 5))


def test_small_sets_hold_nothing_back_and_large_ones_at_most_the_cap():
    few = [row(i) for i in range(19)]
    assert split_holdout(few, 0.1, seed=0) == (few, [])
    assert split_holdout([row(i) for i in range(50)], 0.0, seed=0)[1] == []
    assert len(split_holdout([row(i) for i in range(1000)], 0.1, seed=0)[1]) == MAX_HOLDOUT


def test_early_stopping_remembers_the_best_step_and_stops_after_patience():
    stop = EarlyStopping(patience=2)
    assert stop.update(10, 0.5) and not stop.should_stop
    assert stop.update(20, 0.3)
    assert not stop.update(30, 0.31) and not stop.should_stop
    assert not stop.update(40, 0.30) and stop.should_stop  # within min_delta is no improvement
    assert stop.best_step == 20 and stop.best == 0.3
    assert eval_interval(100) == 13 and eval_interval(12) == 5 and math.ceil(100 / eval_interval(100)) <= 8


@pytest.mark.parametrize(("option", "message"), [
    ({"epochs": 0}, "epochs must be None"),
    ({"holdout": 0.6}, "holdout must be a fraction"),
    ({"patience": 0}, "patience must be an int"),
])
def test_bad_schedule_options_fail_before_any_work(option, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        finetune_lora([{"messages": row(0)}], "local/smollm2", output_dir=tmp_path, **option)
    assert not any(tmp_path.iterdir())
