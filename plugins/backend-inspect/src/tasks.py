"""benchy's question to inspect: which of these tasks does it know? Run by inspect's own Python
with the task specs as arguments (after the program and its version, which only key the
answer). A spec `FILE.py@NAME` or `FILE.py` is looked up in inspect's listing of the file
(`inspect list tasks`); any other spec is a registered task's name, looked up in inspect's
registry (loading its package's entry points). Prints one JSON object:
{"program": ..., "tasks": {spec: {"known": bool, "listed": [names in the file]}}}."""

import json
import sys
from pathlib import Path

from inspect_ai._eval.list import list_tasks
from inspect_ai._util.registry import registry_lookup


def about(spec):
    file, _, name = spec.partition("@")
    if not file.endswith(".py"):
        return {"known": registry_lookup("task", spec) is not None, "listed": []}
    path = Path(file).resolve()
    listed = []
    if path.is_file():
        listed = [t.name for t in list_tasks([path.name], root_dir=path.parent)]
    known = name in listed if name else len(listed) == 1
    return {"known": known, "listed": listed}


program, _version, *specs = sys.argv[1:]
print(json.dumps({"program": program, "tasks": {spec: about(spec) for spec in specs}}))
