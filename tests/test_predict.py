"""Prompts for generation, the predictions file, and ``prouie predict`` -> ``prouie evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.cli import main
from prouie.evaluation import read_predictions, score_items
from prouie.generation import (
    GenerationConfig,
    Request,
    choose_backend,
    cut_at_stop,
    format_prompt,
    json_schema,
    user_turn,
)
from prouie.predict import PromptItem, load_prompts, predict
from prouie.records import RecordError
from prouie.targets import instruction_for, render_target, to_alpaca

NER = {
    "id": "n1",
    "dataset": "conll04",
    "task": "ner",
    "text": "Ann works for ACME in Rome",
    "labels": ["person", "organization", "location"],
    "entities": [
        {"type": "person", "text": "Ann"},
        {"type": "organization", "text": "ACME"},
        {"type": "location", "text": "Rome"},
    ],
}
# The same sentence in an RE data set: alpaca rows must find the right one of the two.
RE = {
    "id": "r1",
    "dataset": "conll04",
    "task": "re",
    "text": "Ann works for ACME in Rome",
    "labels": ["work for", "located in"],
    "relations": [{"type": "work for", "head": {"text": "Ann"}, "tail": {"text": "ACME"}}],
}
EE = {
    "id": "e1",
    "dataset": "phee",
    "task": "ee",
    "text": "she developed a rash",
    "labels": ["adverse event"],
    "roles": ["Subject", "Effect"],
    "events": [
        {
            "type": "adverse event",
            "trigger": {"text": "developed"},
            "arguments": [{"role": "Subject", "text": "she"}, {"role": "Effect", "text": "a rash"}],
        }
    ],
}
RECORDS = [NER, RE, EE]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_prompts_from_records_use_the_stage_instruction(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "records.jsonl", RECORDS)
    for stage in ("cm", "sa"):
        items = load_prompts(data, stage=stage)
        assert [it.record["id"] for it in items] == ["n1", "r1", "e1"]
        for it, rec in zip(items, RECORDS, strict=True):
            assert it.user == instruction_for(rec, stage) + "\n" + rec["text"]
            assert it.reference == render_target(rec, stage)
    assert len(load_prompts(data, limit=2)) == 2


def test_prompts_from_alpaca_join_records_by_text_and_instruction(tmp_path: Path) -> None:
    # The alpaca file holds only the RE row (as prepare writes one file per data set and task).
    alpaca = write_jsonl(tmp_path / "re.jsonl", [to_alpaca(RE, "sa")])
    records = write_jsonl(tmp_path / "records.jsonl", RECORDS)
    (item,) = load_prompts(alpaca, records)
    assert item.record["id"] == "r1"
    row = to_alpaca(RE, "sa")
    assert item.user == row["instruction"] + "\n" + row["input"]
    assert item.reference == row["output"]


def test_alpaca_errors_name_file_line_and_field(tmp_path: Path) -> None:
    alpaca = write_jsonl(
        tmp_path / "a.jsonl", [to_alpaca(NER, "sa"), {"instruction": "x", "input": "unknown"}]
    )
    with pytest.raises(RecordError, match=r"a\.jsonl:1: field 'instruction'.*--records"):
        load_prompts(alpaca)
    records = write_jsonl(tmp_path / "records.jsonl", RECORDS)
    with pytest.raises(RecordError, match=r"a\.jsonl:2: field 'input': no record"):
        load_prompts(alpaca, records)
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"task": "ner", "text": "x", "labels": ["person"]}\n{oops\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"b\.jsonl:2: field '<line>': invalid JSON"):
        load_prompts(bad)
    with pytest.raises(RecordError, match=r"c\.jsonl:1: field 'task': is missing"):
        load_prompts(write_jsonl(tmp_path / "c.jsonl", [{"foo": 1}]))


def test_alpaca_json_array_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([to_alpaca(EE, "cm")]), encoding="utf-8")
    (item,) = load_prompts(path, write_jsonl(tmp_path / "r.jsonl", RECORDS))
    assert item.record["id"] == "e1"


def test_chat_format_and_stops() -> None:
    assert format_prompt("Q") == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert format_prompt("Q", "none") == "Q"
    with pytest.raises(ValueError, match="unknown chat format"):
        format_prompt("Q", "llama9")
    assert cut_at_stop('{"a": "b"}<|im_end|>junk', ["<|im_end|>"]) == '{"a": "b"}'
    assert user_turn("I", "") == "I"
    assert choose_backend("transformers") == "transformers"
    with pytest.raises(ValueError, match="unknown backend"):
        choose_backend("tgi")


class EchoGenerator:
    """Answers every prompt with a fixed map (stands in for a model)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.batches: list[int] = []

    def prompt(self, user: str) -> str:
        return format_prompt(user)

    def generate(self, requests: list[Request], cfg: GenerationConfig) -> list[str]:
        self.batches.append(len(requests))
        return [self.answers[r.prompt] for r in requests]


def test_predict_writes_a_file_that_evaluate_scores(tmp_path: Path) -> None:
    items = load_prompts(write_jsonl(tmp_path / "records.jsonl", RECORDS))
    answers = {format_prompt(it.user): it.reference for it in items}
    answers[format_prompt(items[2].user)] = "not an answer"
    gen = EchoGenerator(answers)
    out, failed = predict(
        items, gen, tmp_path / "preds.jsonl", GenerationConfig(batch_size=2), progress=False
    )
    assert failed == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["n1", "r1", "e1"]
    assert set(rows[0]) == {"id", "dataset", "task", "prompt", "prediction", "reference", "record"}
    assert rows[0]["prompt"].startswith("<|im_start|>user\n")
    assert gen.batches == [2, 1]
    ev, _ = score_items(read_predictions(out))
    t = ev.result()["tasks"]
    assert t["ner"]["datasets"]["conll04"]["scores"]["entity"]["f1"] == 1.0
    assert t["re"]["datasets"]["conll04"]["scores"]["relation"]["f1"] == 1.0
    assert t["ee"]["datasets"]["phee"]["scores"]["argument"]["f1"] == 0.0
    assert t["ee"]["datasets"]["phee"]["unparseable"] == 1


def test_predict_keeps_input_order_when_batches_are_sorted(tmp_path: Path) -> None:
    recs = [
        dict(NER, id=f"n{i}", text="Ann works for ACME in Rome" + " ." * i) for i in (5, 0, 3, 1)
    ]
    items = [PromptItem(f"x:{i}", r, user_turn("I", r["text"]), "") for i, r in enumerate(recs)]
    gen = EchoGenerator({format_prompt(it.user): it.record["id"] for it in items})
    out, _ = predict(
        items, gen, tmp_path / "p.jsonl", GenerationConfig(batch_size=3), progress=False, chunk=4
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["prediction"] for r in rows] == ["n5", "n0", "n3", "n1"]


@pytest.mark.framework
def test_chat_format_matches_llamafactory_qwen3_nothink(tiny_model: Path) -> None:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.converter import AlpacaDatasetConverter
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    data_args = DataArguments(template="qwen3_nothink")
    template = get_template_and_fix_tokenizer(tok, data_args)
    row = to_alpaca(NER, "sa")
    converted = AlpacaDatasetConverter(DatasetAttr("file", "x"), data_args)(row)
    user = converted["_prompt"][0]["content"]
    assert user == user_turn(row["instruction"], row["input"])
    prompt_ids, _ = template.encode_oneturn(
        tok, [*converted["_prompt"], {"role": "assistant", "content": row["output"]}]
    )
    assert tok.decode(prompt_ids) == format_prompt(user)


@pytest.mark.framework
def test_predict_then_evaluate_with_a_tiny_model_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "records.jsonl", RECORDS)

    def predict(out: Path, *extra: str) -> int:
        return main(
            [
                "predict",
                *("--model", str(tiny_model), "--data", str(data), "--out", str(out)),
                *("--backend", "transformers", "--max-new-tokens", "24"),
                *("--quiet", "--dtype", "float32", *extra),
            ]
        )

    preds = tmp_path / "preds.jsonl"
    rc = predict(preds, "--batch-size", "2")
    assert rc == 0
    rows = [json.loads(x) for x in preds.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["n1", "r1", "e1"]
    assert all(isinstance(r["prediction"], str) for r in rows)
    assert all("<|im_end|>" not in r["prediction"] for r in rows)

    # Greedy decoding is deterministic: a second run gives the same answers.
    again = tmp_path / "again.jsonl"
    assert predict(again) == 0
    assert [json.loads(x)["prediction"] for x in again.read_text().splitlines()] == [
        r["prediction"] for r in rows
    ]

    out = tmp_path / "report"
    assert main(["evaluate", str(preds), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "report.json").read_text())
    n = sum(d["n"] for t in result["tasks"].values() for d in t["datasets"].values())
    assert n == 3
    assert set(result["tasks"]) == {"ner", "re", "ee"}
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_vllm_generator_sends_token_ids_and_greedy_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vLLM backend's calls, checked against a stand-in module (vLLM itself needs a GPU)."""
    import sys
    import types

    calls: dict = {}

    class Tok:
        eos_token = "<|im_end|>"

        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            calls.setdefault("add_special_tokens", set()).add(add_special_tokens)
            return [len(text)]

    class Out:
        def __init__(self, text: str) -> None:
            self.outputs = [types.SimpleNamespace(text=text)]

    class LLM:
        def __init__(self, **kwargs: object) -> None:
            calls["engine"] = kwargs

        def get_tokenizer(self) -> Tok:
            return Tok()

        def generate(
            self, inputs: list, params: object, lora_request: object = None, use_tqdm: bool = True
        ) -> list:
            calls["inputs"], calls["params"], calls["lora"] = inputs, params, lora_request
            return [Out(f"answer {i['prompt_token_ids'][0]}") for i in inputs]

    fake = types.ModuleType("vllm")
    fake.LLM = LLM
    fake.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake)

    from prouie.integrations.vllm_backend import VllmGenerator

    gen = VllmGenerator("some/model", seed=3)
    prompts = [gen.prompt("a"), gen.prompt("bbb")]
    assert gen.generate([Request(p) for p in prompts], GenerationConfig(max_new_tokens=7)) == [
        f"answer {len(p)}" for p in prompts
    ]
    assert calls["engine"]["model"] == "some/model" and calls["engine"]["enable_lora"] is False
    assert calls["add_special_tokens"] == {
        False
    }  # the chat format already holds every special token
    greedy = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 7, "stop": ["<|im_end|>"], "seed": 0}
    assert calls["params"] == [greedy, greedy]
    assert calls["lora"] is None


class DyingGenerator(EchoGenerator):
    """Answers ``lives`` batches, then dies as a killed process would."""

    def __init__(self, answers: dict[str, str], lives: int) -> None:
        super().__init__(answers)
        self.lives = lives
        self.asked: list[str] = []

    def generate(self, requests: list[Request], cfg: GenerationConfig) -> list[str]:
        if self.lives == 0:
            raise KeyboardInterrupt
        self.lives -= 1
        self.asked += [r.prompt for r in requests]
        return super().generate(requests, cfg)


def test_a_killed_run_resumes_without_repeating_answered_prompts(tmp_path: Path) -> None:
    recs = [dict(NER, id=f"n{i}", text=f"Ann works for ACME in Rome {i}") for i in range(7)]
    items = load_prompts(write_jsonl(tmp_path / "records.jsonl", recs))
    answers = {format_prompt(it.user): it.record["id"] for it in items}
    cfg = GenerationConfig(batch_size=2)
    whole, _ = predict(items, EchoGenerator(answers), tmp_path / "whole.jsonl", cfg, progress=False)

    out = tmp_path / "resumed.jsonl"
    first = DyingGenerator(answers, lives=2)
    with pytest.raises(KeyboardInterrupt):
        predict(items, first, out, cfg, progress=False)
    with out.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "n6", "prom')  # a line cut short by the kill
    second = DyingGenerator(answers, lives=99)
    _, failed = predict(items, second, out, cfg, progress=False)
    assert failed == 0
    assert len(first.asked) == 4 and not set(first.asked) & set(second.asked)
    assert len(second.asked) == 3
    assert out.read_text() == whole.read_text()


def test_failed_requests_are_counted_and_retried_on_the_next_run(tmp_path: Path) -> None:
    items = load_prompts(write_jsonl(tmp_path / "records.jsonl", RECORDS))
    answers = {format_prompt(it.user): it.reference for it in items}

    class Flaky(EchoGenerator):
        def generate(self, requests: list[Request], cfg: GenerationConfig) -> list[str | None]:
            got = super().generate(requests, cfg)
            return [None if "rash" in r.prompt else a for r, a in zip(requests, got, strict=True)]

    out = tmp_path / "p.jsonl"
    _, failed = predict(items, Flaky(answers), out, GenerationConfig(), progress=False)
    assert failed == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r.get("error") is not None for r in rows].count(True) == 1
    again = EchoGenerator(answers)
    _, failed = predict(items, again, out, GenerationConfig(), progress=False)
    assert failed == 0 and again.batches == [1]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["n1", "r1", "e1"] and all("error" not in r for r in rows)


def test_json_schema_of_a_label_list() -> None:
    cm = json_schema(["person", "location"], "cm")
    assert cm == {
        "type": "object",
        "properties": {"person": {"type": "string"}, "location": {"type": "string"}},
        "required": ["person", "location"],
        "additionalProperties": False,
    }
    assert json_schema(["person"], "sa")["required"] == []


def test_constrained_predict_sends_each_prompt_its_schema(tmp_path: Path) -> None:
    items = load_prompts(write_jsonl(tmp_path / "records.jsonl", RECORDS), stage="cm")
    seen: list = []

    class Recorder(EchoGenerator):
        def generate(self, requests: list[Request], cfg: GenerationConfig) -> list[str]:
            seen.extend(requests)
            return ["{}"] * len(requests)

    predict(
        items,
        Recorder({}),
        tmp_path / "p.jsonl",
        GenerationConfig(),
        constrained=True,
        progress=False,
    )
    by_prompt = {r.prompt: r.schema for r in seen}
    for it in items:
        assert by_prompt[format_prompt(it.user)] == json_schema(it.record["labels"], "cm")


@pytest.mark.framework
def test_constrained_transformers_answers_are_schema_objects(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The random tiny model never writes JSON by itself; under the schema every answer is one."""
    pytest.importorskip("xgrammar")
    from prouie.integrations.transformers_backend import TransformersGenerator

    items = [
        *load_prompts(write_jsonl(tmp_path / "r.jsonl", RECORDS), stage="cm"),
        *load_prompts(tmp_path / "r.jsonl", stage="sa"),
    ]
    gen = TransformersGenerator(str(tiny_model), dtype="float32", device="cpu")
    cfg = GenerationConfig(max_new_tokens=120, batch_size=len(items))
    out, _ = predict(
        items, gen, tmp_path / "p.jsonl", cfg, constrained=True, max_value_chars=6, progress=False
    )
    for row, it in zip((json.loads(x) for x in out.read_text().splitlines()), items, strict=True):
        obj = json.loads(row["prediction"])
        assert list(obj) == [k for k in it.record["labels"] if k in obj]  # schema order
        assert all(isinstance(v, str) and len(v) <= 6 for v in obj.values())
        if it.stage == "cm":
            assert list(obj) == it.record["labels"]


def test_vllm_generator_passes_the_schema_to_structured_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    got: list = []
    fake = types.ModuleType("vllm")
    fake.SamplingParams = lambda **kw: got.append(kw) or kw
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.StructuredOutputsParams = lambda **kw: ("structured", kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    from prouie.integrations.vllm_backend import _structured

    schema = json_schema(["person"], "cm")
    assert _structured(schema) == {"structured_outputs": ("structured", {"json": schema})}
    assert _structured(None) == {}


def test_the_pure_modules_import_no_framework() -> None:
    """Backends live in prouie.integrations; importing the rest loads no ML framework."""
    import subprocess
    import sys

    code = (
        "import sys, prouie.generation, prouie.predict, prouie.evaluation, prouie.prompts, prouie.cli;"
        "prouie.cli.build_parser();"
        "print(sorted({'torch', 'transformers', 'vllm', 'openai', 'xgrammar'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_out_file_that_is_not_predictions_is_left_alone(tmp_path: Path) -> None:
    items = load_prompts(write_jsonl(tmp_path / "records.jsonl", RECORDS))
    out = tmp_path / "records.jsonl"  # the user's records given as --out by mistake
    before = out.read_text()
    with pytest.raises(RecordError, match=r"records\.jsonl:1: field 'prompt': .*not a predictions"):
        predict(items, EchoGenerator({}), out, GenerationConfig(), progress=False)
    assert out.read_text() == before
