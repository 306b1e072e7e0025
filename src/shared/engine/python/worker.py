"""llmops Python worker: runs a flow's own Python code for the TypeScript engine.

Usage: python3 worker.py [--threads N]   (cwd = the flow's working directory)
Protocol: newline-delimited JSON, see PROTOCOL.md. Python 3.9+, standard library only.
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "shim")


def _arrange_sys_path(working_dir):
    # The flow's own modules come first, our package last, so user code never resolves
    # one of its imports to a file of ours (e.g. a user module called `worker`).
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
    sys.path.insert(0, working_dir)
    sys.path.append(HERE)
    # The shim only when the real promptflow package is not importable.
    if importlib.util.find_spec("promptflow") is None:
        sys.path.append(SHIM)
        return True
    return False


def _hook_real_metric_logger(bridge):
    try:
        from promptflow._core.metric_logger import add_metric_logger

        add_metric_logger(lambda key, value, variant_id=None: bridge.log_metric(key, value))
    except Exception:
        pass


def main(argv):
    threads = 16
    if "--threads" in argv:
        threads = max(1, int(argv[argv.index("--threads") + 1]))
    working_dir = os.getcwd()
    shim = _arrange_sys_path(working_dir)

    from llmops_worker import bridge, capture
    from llmops_worker.channel import open_private_channel
    from llmops_worker.server import Server

    channel = open_private_channel()
    capture.install()
    bridge.install(channel)
    if not shim:
        _hook_real_metric_logger(bridge)
    spec = importlib.util.find_spec("promptflow")
    location = list(spec.submodule_search_locations or [])[:1] if spec else []
    channel.send({"ready": True, "pid": os.getpid(), "python": sys.version.split()[0], "shim": shim,
                  "promptflow": location[0] if location else None})
    Server(channel, threads, working_dir).serve()
    sys.__stderr__.flush()
    # User code may leave non-daemon threads behind; they must not keep the worker alive.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
