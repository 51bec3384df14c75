"""LDA's pure logic: selection per group, the random baseline, the stop rule, state and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.records import RecordError
from prouie.robust.lda import (
    LdaConfig,
    LoopState,
    Round,
    group_quota,
    read_scores,
    score_writer,
    select_random,
    select_top,
    stop_reason,
    validation_f1,
    write_dataset,
    write_report,
)


def _records() -> list[dict]:
    # Two datasets x two perturbations, group sizes 30, 20, 11 and 1.
    sizes = {("a", "typo"): 30, ("a", "swap"): 20, ("b", "typo"): 11, ("b", None): 1}
    out = []
    for (ds, kind), n in sizes.items():
        for i in range(n):
            meta = {"perturbation": kind} if kind else {}
            out.append({"id": f"{ds}-{kind}-{i}", "dataset": ds, "meta": meta})
    return out


def test_top_beta_is_taken_within_each_group() -> None:
    records = _records()
    # Loss rises with the index inside a group, except in ("a", "swap") where it falls.
    scores = {
        ex["id"]: (-1.0 if "swap" in ex["id"] else 1.0) * int(ex["id"].rsplit("-", 1)[1])
        for ex in records
    }
    got = [ex["id"] for ex in select_top(records, scores, 0.1)]
    assert got == [
        "a-typo-29",
        "a-typo-28",
        "a-typo-27",
        "a-swap-0",
        "a-swap-1",
        "b-typo-10",
        "b-typo-9",
        "b-None-0",
    ]


def test_unscored_samples_rank_last() -> None:
    records = _records()[:30]
    scores = {ex["id"]: 1.0 for ex in records}
    scores["a-typo-5"] = None
    del scores["a-typo-6"]
    assert {ex["id"] for ex in select_top(records, scores, 28 / 30)} == {
        ex["id"] for ex in records
    } - {"a-typo-5", "a-typo-6"}


def test_random_baseline_has_the_same_group_sizes_and_follows_the_seed() -> None:
    records = _records()
    scores = {ex["id"]: float(i) for i, ex in enumerate(records)}

    def sizes(sel: list[dict]) -> dict:
        out: dict = {}
        for ex in sel:
            key = (ex["dataset"], ex["meta"].get("perturbation"))
            out[key] = out.get(key, 0) + 1
        return out

    top = select_top(records, scores, 0.25)
    a, b, c = (select_random(records, 0.25, s) for s in (1, 1, 2))
    assert sizes(a) == sizes(top)
    assert a == b and a != c


def test_quota_rounds_up_so_every_group_contributes() -> None:
    assert [group_quota(n, 0.05) for n in (0, 1, 20, 21, 100)] == [0, 1, 1, 2, 5]


def test_stop_rule_fires_on_a_small_gain_and_at_the_round_limit() -> None:
    rounds = [Round(0, f1=40.0), Round(1, beta=0.1, f1=44.0)]
    assert stop_reason(rounds, 0.3, 4) is None
    rounds.append(Round(2, beta=0.05, f1=44.29))
    assert stop_reason(rounds, 0.3, 4) == "F1 gain 0.29 < delta 0.3 in round 2"
    rounds[-1].f1 = 44.31
    assert stop_reason(rounds, 0.3, 4) is None
    assert stop_reason(rounds, 0.3, 2) == "round limit 2 reached"
    # A drop in F1 stops as well; an unevaluated round does not count.
    assert stop_reason([*rounds, Round(3, f1=43.0)], 0.3, 4).startswith("F1 gain -1.31")
    assert stop_reason([*rounds, Round(3)], 0.3, 4) is None


def test_validation_f1_averages_the_main_metric_of_each_task() -> None:
    result = {
        "tasks": {
            "ner": {"main_metric": "entity", "micro": {"entity": {"f1": 0.5}}},
            "ee": {"main_metric": "argument", "micro": {"argument": {"f1": 0.2}}},
        }
    }
    assert validation_f1(result) == pytest.approx(35.0)


def test_scores_file_survives_a_cut_line_and_rejects_a_broken_one(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with score_writer(path) as write:
        write("x", 1.5, 3)
        write("y", None, 0)
    path.write_text(path.read_text() + '{"id": "z", "lo')
    assert read_scores(path) == {"x": 1.5, "y": None}
    with score_writer(path) as write:
        write("z", 2.0, 1)
    assert read_scores(path) == {"x": 1.5, "y": None, "z": 2.0}
    path.write_text('{"id": "x"}\n' + path.read_text())
    with pytest.raises(RecordError, match=r"s.jsonl:1"):
        read_scores(path)


def test_config_names_unknown_keys_and_bad_values() -> None:
    base = {"model": "m", "original": "o", "augmented": "a", "validation": "v"}
    assert LdaConfig.from_dict(base).beta_of(3) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="did you mean 'delta'"):
        LdaConfig.from_dict({**base, "detla": 0.3})
    with pytest.raises(ValueError, match="beta must be"):
        LdaConfig.from_dict({**base, "beta": 0})
    with pytest.raises(ValueError, match="'validation' is required"):
        LdaConfig.from_dict({k: v for k, v in base.items() if k != "validation"})


def test_state_round_trips_and_report_has_every_round(tmp_path: Path) -> None:
    state = LoopState("loss", 200)
    state.round(0).f1 = 40.0
    r1 = state.round(1, 0.1)
    r1.selected, r1.used_ids, r1.f1, r1.f1_by_perturbation = 20, 20, 42.5, {"typo": 41.0}
    state.stop_reason = "round limit 1 reached"
    state.save(tmp_path / "state.json")
    again = LoopState.load(tmp_path / "state.json")
    assert again == state
    write_report(again, tmp_path, plot=False)
    doc = json.loads((tmp_path / "lda_report.json").read_text())
    assert [r["cumulative_share"] for r in doc["rounds"]] == [0.0, 0.1]
    assert (
        "| 1 | 10.00 % | 20 | 10.00 % | 42.50 | 41.00 |" in (tmp_path / "lda_report.md").read_text()
    )


def test_selection_is_written_as_a_llamafactory_dataset(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory"
    records = [json.loads(x) for x in (fixtures / "ner.jsonl").read_text().splitlines()]
    names = write_dataset(records[:3], tmp_path, "lda_round1", "cm")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert names == ["lda_round1_toy_ner"]
    assert info[names[0]]["formatting"] == "alpaca"
    rows = (tmp_path / info[names[0]]["file_name"]).read_text().splitlines()
    assert [json.loads(r)["input"] for r in rows] == [r["text"] for r in records[:3]]
