"""The evaluation SDK's `evaluate()` run inside an llmops worker.

Shared by the `promptflow.evals` and `azure.ai.evaluation` stand-ins. It reads the data file,
runs `target` (a flow object or function) line by line, calls every evaluator with its mapped
columns, and returns the SDK's result shape: `{"rows": [...], "metrics": {...}, "studio_url": None}`
with columns `inputs.<col>`, `outputs.<target output>` and `outputs.<evaluator>.<score>`.
Built-in evaluator classes ask the llmops engine for their scores (callback `code_evaluator`), so
model calls share the engine's connections, cache, rate limits and token accounting. Lines that
fail are reported to the engine with their error, as the SDK's own batch runs record them.
"""
import asyncio
import concurrent.futures
import contextvars
import csv
import dataclasses
import inspect
import json
import math
import os
import re
import sys
import traceback

_REFERENCE = re.compile(r"^\$\{(data|target|run\.outputs)\.(.+)\}$")


def _read_data(data):
    if data is None:
        raise ValueError("evaluate() needs data= (the path of a .jsonl or .csv file).")
    path = os.fspath(data)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"evaluate(data=...): {path} is not a file.")
    if path.lower().endswith(".csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            return [dict(row) for row in csv.DictReader(handle)]
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc}).") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object per line.")
            rows.append(row)
    return rows


def _call(func, kwargs):
    """Call a user callable; await a coroutine and join a generator as the SDK's batch engine does."""
    result = func(**kwargs)
    if inspect.isawaitable(result):
        async def wait():
            return await result
        result = asyncio.run(wait())
    if inspect.isgenerator(result):
        result = "".join(str(x) for x in result)
    return result


def _parameters(func):
    """(names of the parameters, takes **kwargs) of a function or of an object's __call__."""
    target = func if inspect.isfunction(func) or inspect.ismethod(func) else getattr(func, "__call__", func)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return [], True
    names, var_kw = [], False
    for p in signature.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            var_kw = True
        elif p.kind != p.VAR_POSITIONAL and p.name != "self":
            names.append(p.name)
    return names, var_kw


def _normalise_output(value):
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return {"output": value}


def _lookup(source, path):
    value = source
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _mapping_of(name, evaluator_config):
    config = evaluator_config or {}
    mapping = config.get(name, config.get("default")) or {}
    # azure-ai-evaluation nests it: {"name": {"column_mapping": {...}}}.
    if isinstance(mapping, dict) and isinstance(mapping.get("column_mapping"), dict):
        mapping = mapping["column_mapping"]
    return mapping if isinstance(mapping, dict) else {}


def _evaluator_kwargs(names, var_kw, mapping, row, outputs):
    kwargs = {}
    for param, ref in mapping.items():
        if not var_kw and param not in names:
            continue  # a mapping for another evaluator's input (one mapping is often shared by all)
        match = _REFERENCE.match(ref.strip()) if isinstance(ref, str) else None
        if match is None:
            kwargs[param] = ref
            continue
        source = row if match.group(1) == "data" else (outputs or {})
        found, value = _lookup(source, match.group(2))
        if not found:
            where = "data column" if match.group(1) == "data" else "target output"
            raise ValueError(f"{ref} (for '{param}'): no {where} '{match.group(2)}'")
        kwargs[param] = value
    # Unmapped parameters take the column of the same name, target outputs first (the SDK's default mapping).
    for param in names:
        if param in kwargs:
            continue
        if outputs and param in outputs:
            kwargs[param] = outputs[param]
        elif param in row:
            kwargs[param] = row[param]
    return kwargs


def _error_text(exc):
    return f"({type(exc).__name__}) {exc}"


def _user_traceback(exc):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    return "".join(line for line in lines if here not in line)


def _mean(values):
    numbers = [float(v) for v in values
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))]
    return sum(numbers) / len(numbers) if numbers else None


def _concurrency():
    try:
        return max(1, int(os.environ.get("LLMOPS_EVAL_CONCURRENCY", "4")))
    except ValueError:
        return 4


def _map_lines(work, count):
    """work(i) for every line, on a few threads; each thread runs in a copy of this context (so
    engine callbacks are attributed to the request that called evaluate())."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(_concurrency(), max(1, count))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(count)]
        return [f.result() for f in futures]


def _write_output(output_path, result):
    path = os.fspath(output_path)
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, "evaluation_results.json")
    else:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)


def _report_line_errors(errors):
    if not errors:
        return
    try:
        from llmops_worker import bridge
        bridge.call_engine("code_evaluator", {"action": "line_errors", "errors": errors})
    except RuntimeError:
        for e in errors:
            sys.stderr.write(f"line {e['line']}: {e['message']}\n")


def evaluate(*, data=None, evaluators=None, evaluation_name=None, target=None, evaluator_config=None,
             azure_ai_project=None, output_path=None, **kwargs):
    """Run target and evaluators over data; the SDK's result dict (rows, metrics, studio_url)."""
    rows = _read_data(data)
    evaluators = dict(evaluators or {})
    if not evaluators:
        raise ValueError("evaluate() needs at least one evaluator (evaluators={name: evaluator}).")
    for name, ev in evaluators.items():
        if not callable(ev):
            raise TypeError(f"evaluators['{name}'] is not callable (found {type(ev).__name__}).")
    if azure_ai_project:
        sys.stderr.write("evaluate(): azure_ai_project is ignored; results stay in the llmops run store.\n")
    errors = []

    outputs = [None] * len(rows)
    if target is not None:
        if not callable(target):
            raise TypeError(f"evaluate(target=...) must be callable (found {type(target).__name__}).")
        names, var_kw = _parameters(target)

        def run_target(i):
            row = rows[i]
            args = dict(row) if var_kw else {k: v for k, v in row.items() if k in names}
            try:
                return _normalise_output(_call(target, args)), None
            except Exception as exc:  # the line's error, recorded and reported
                return None, exc

        for i, (out, exc) in enumerate(_map_lines(run_target, len(rows))):
            outputs[i] = out
            if exc is not None:
                errors.append({"line": i, "evaluator": None, "message": f"target failed: {_error_text(exc)}",
                               "traceback": _user_traceback(exc)})

    scores = {name: [None] * len(rows) for name in evaluators}
    for name, ev in evaluators.items():
        names, var_kw = _parameters(ev)
        mapping = _mapping_of(name, evaluator_config)

        def run_evaluator(i, ev=ev, names=names, var_kw=var_kw, mapping=mapping):
            if target is not None and outputs[i] is None:
                return None, None  # the target failed on this line: nothing to score
            try:
                args = _evaluator_kwargs(names, var_kw, mapping, rows[i], outputs[i])
                return _normalise_output(_call(ev, args)), None
            except Exception as exc:
                return None, exc

        for i, (out, exc) in enumerate(_map_lines(run_evaluator, len(rows))):
            scores[name][i] = out
            if exc is not None:
                errors.append({"line": i, "evaluator": name, "message": f"evaluator '{name}' failed: {_error_text(exc)}",
                               "traceback": _user_traceback(exc)})

    result_rows = []
    columns = {}
    for i, row in enumerate(rows):
        record = {f"inputs.{k}": v for k, v in row.items()}
        for k, v in (outputs[i] or {}).items():
            record[f"outputs.{k}"] = v
        for name in evaluators:
            for k, v in (scores[name][i] or {}).items():
                key = f"{name}.{k}"
                record[f"outputs.{key}"] = v
                columns.setdefault(key, []).append(v)
        result_rows.append(record)
    metrics = {}
    for key, values in columns.items():
        mean = _mean(values)
        if mean is not None:
            metrics[key] = mean

    _report_line_errors(errors)
    result = {"rows": result_rows, "metrics": metrics, "studio_url": None}
    if output_path:
        _write_output(output_path, result)
    return result
