"""The request loop: read messages, run each on a pool thread, answer by id (PROTOCOL.md)."""
import concurrent.futures
import contextvars
import os
import sys
import time

from . import bridge, capture, checks
from .channel import current_request_id
from .connections import ConnectionStore, WorkerUserError
from .flex import FlexEntry, InitFailure, aggregation_input, normalise_output
from .invoke import error_shape, run_callable
from .jsonable import to_jsonable
from .tools import ToolRegistry


# Items per part of a long list (the engine's LIST_PART, worker-process.ts).
LIST_PART = 2048


class Server:
    def __init__(self, channel, threads, working_dir):
        self.channel = channel
        self.working_dir = working_dir
        self.store = ConnectionStore()
        self.tools = ToolRegistry(self.store)
        self.flex = {}
        self.operation_context = {}
        # Long lists sent ahead of the request that uses them, in parts (PROTOCOL.md "Long lists"), by list id.
        self.lists = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="llmops-call")
        self.handlers = {
            "configure": self.op_configure,
            "inspect": self.op_inspect,
            "call": self.op_call,
            "flex_init": self.op_flex_init,
            "flex_call": self.op_flex_call,
            "flex_aggregate": self.op_flex_aggregate,
            "check_code": self.op_check_code,
            "ping": lambda msg, chunk: {"pid": os.getpid()},
        }

    # --- loop -------------------------------------------------------------------------
    def serve(self):
        while True:
            message = self.channel.read()
            if message is None or message.get("op") == "shutdown":
                break
            if "cb" in message:
                self.channel.answer_callback(message)
                continue
            op = message.get("op")
            if op == "list_part":
                # Read in order on this thread: a list is whole before the request that names it is read.
                self.lists.setdefault(message.get("list"), []).extend(_shared_texts(message.get("items") or ()))
                continue
            if op == "list_drop":
                self.lists.pop(message.get("list"), None)
                continue
            self._take_lists(message)
            context = contextvars.Context()
            self.pool.submit(context.run, self._handle, message)
        # Engine answers came through the loop above: none can arrive now. Fail the calls waiting on one first,
        # or their threads (and so the shutdown below, and the worker) would wait for ever.
        self.channel.fail_all_callbacks("worker shutting down")
        self.pool.shutdown(wait=True)

    def _handle(self, message):
        request_id = message.get("id")
        current_request_id.set(request_id)
        buffers = capture.begin()
        started = time.perf_counter()
        handler = self.handlers.get(message.get("op"))
        if self.operation_context:
            _fill_operation_context(self.operation_context)
        try:
            if handler is None:
                raise WorkerUserError("InvalidRequest", f"Unknown op {message.get('op')!r}.")
            chunk = None
            if message.get("stream"):
                def chunk(text):
                    self.channel.send({"id": request_id, "chunk": text})
            result = handler(message, chunk)
            reply = {"id": request_id, "ok": True, "result": result}
        except BaseException as exc:  # noqa: B902 - user code may raise SystemExit and friends
            reply = {"id": request_id, "ok": False, "error": self._describe(exc, message)}
        out, err = capture.collected(buffers)
        reply["stdout"] = out
        reply["stderr"] = err
        reply["durationMs"] = (time.perf_counter() - started) * 1000
        try:
            self.channel.send(reply)
        except (TypeError, ValueError) as exc:
            self.channel.send({"id": request_id, "ok": False, "stdout": out, "stderr": err,
                               "error": error_shape(exc, "OutputNotSerializable")})

    def _describe(self, exc, message):
        if isinstance(exc, WorkerUserError):
            return error_shape(exc, exc.code)
        if isinstance(exc, InitFailure):
            shape = error_shape(exc.cause, "FlowEntryInitializationError")
            shape["message"] = f"Failed to initialize flow entry with init kwargs: ({type(exc.cause).__name__}) " \
                               f"{exc.cause}"
            return shape
        op = message.get("op")
        if op == "inspect":
            return error_shape(exc, "PythonLoadError")
        if op in ("flex_call", "flex_aggregate"):
            entry = self.flex.get(message.get("key"))
            subject = entry.name if entry is not None else message.get("key")
            if op == "flex_aggregate" and entry is not None and entry.aggregate is not None:
                subject = getattr(entry.aggregate, "__qualname__", subject)
            return error_shape(exc, "ScriptExecutionError", subject)
        if op == "flex_init":
            return error_shape(exc, "PythonLoadError")
        return error_shape(exc, "ToolExecutionError", message.get("node") or "python")

    # --- ops ---------------------------------------------------------------------------
    def op_configure(self, message, _chunk):
        self.store.replace(message.get("connections") or {}, message.get("fallback"))
        self.operation_context = dict(message.get("operationContext") or {})
        return {}

    def op_check_code(self, message, _chunk):
        root = self._path(message.get("root") or ".")
        entries = [self._path(f) for f in message.get("entries") or []]
        return checks.check_code(root, entries, imports=message.get("imports", True))

    def op_inspect(self, message, _chunk):
        package = message.get("package")
        tool = self.tools.get_package(package) if package else self.tools.get(self._path(message["file"]))
        return dict(tool.description, file=tool.path)

    def op_call(self, message, chunk):
        package = message.get("package")
        path = None if package else self._path(message["file"])
        func, kwargs = self.tools.bound_call(path, message.get("inputs") or {}, package)
        return self._run_collecting_metrics(func, kwargs, chunk, bool(message.get("aggregation")))

    def op_flex_init(self, message, _chunk):
        entry = FlexEntry(message["entry"], message.get("init") or {}, self.store,
                          os.path.abspath(message.get("workingDir") or self.working_dir),
                          text_init=message.get("initText") or ())
        self.flex[message["key"]] = entry
        return entry.description

    def op_flex_call(self, message, chunk):
        entry = self._flex(message)
        output = normalise_output(run_callable(entry.func, entry.line_kwargs(message.get("inputs") or {}), chunk))
        rows = output.get("rows") if message.get("rowsOut") else None
        if isinstance(rows, list) and len(rows) > LIST_PART:
            # An evaluation's result rows (a code evaluator's evaluate() over a million lines) go back in parts
            # ahead of the reply, which then says how many were sent (PROTOCOL.md "Long lists").
            for start in range(0, len(rows), LIST_PART):
                self.channel.send({"id": message.get("id"), "rows_part": to_jsonable(rows[start:start + LIST_PART])})
            output = dict(output, rows={"$llmops_rows_sent": len(rows)})
        return {"output": to_jsonable(output)}

    def op_flex_aggregate(self, message, _chunk):
        entry = self._flex(message)
        if entry.aggregate is None:
            raise WorkerUserError("InvalidAggregationFunction", f"{entry.name} has no __aggregate__.")
        outcome = self._run_collecting_metrics(
            entry.aggregate, {}, None, True, positional=aggregation_input(message.get("lineResults") or []))
        value = outcome["output"]
        if isinstance(value, dict):
            outcome["metrics"] = dict(outcome["metrics"], **value)
        else:
            outcome["warning"] = "__aggregate__ did not return a dict; no metrics recorded."
        return outcome

    # --- helpers -----------------------------------------------------------------------
    def _take_lists(self, message):
        """Puts each list sent ahead in parts in the place of its marker: a field, or one of the inputs."""
        inputs = message.get("inputs")
        if isinstance(inputs, dict):
            for name, value in inputs.items():
                if _is_list_marker(value):
                    inputs[name] = self.lists.pop(value["$llmops_list"], [])
        for field, value in message.items():
            if _is_list_marker(value):
                message[field] = self.lists.pop(value["$llmops_list"], [])

    def _run_collecting_metrics(self, func, kwargs, chunk, aggregation, positional=None):
        sink = {} if aggregation else None
        bridge.metric_sink.set(sink)
        if positional is not None:
            def call_positional():
                return func(positional)
            output = run_callable(call_positional, {}, chunk)
        else:
            output = run_callable(func, kwargs, chunk)
        result = {"output": to_jsonable(output)}
        if aggregation:
            result["metrics"] = to_jsonable(sink)
        return result

    def _flex(self, message):
        entry = self.flex.get(message.get("key"))
        if entry is None:
            raise WorkerUserError("InvalidRequest", f"Flex entry '{message.get('key')}' was not initialised.")
        return entry

    def _path(self, file):
        return file if os.path.isabs(file) else os.path.join(self.working_dir, file)


def _shared_texts(items):
    """Short texts as one object each (a column of a million grades holds two strings, not a million)."""
    return [sys.intern(v) if type(v) is str and len(v) <= 64 else v for v in items]


def _is_list_marker(value):
    return isinstance(value, dict) and len(value) == 1 and "$llmops_list" in value


def _fill_operation_context(values):
    """Prompt Flow's executor puts the run's ids in the OperationContext of every line; flow code may read them.
    Each request runs in a context of its own, so this instance is the request's."""
    try:
        from promptflow.tracing._operation_context import OperationContext
    except ImportError:
        return
    OperationContext.get_instance().update(values)


def log(text):
    sys.__stderr__.write(f"[llmops-worker {os.getpid()}] {text}\n")
    sys.__stderr__.flush()
