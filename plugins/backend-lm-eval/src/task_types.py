# What the lm-eval backend asks lm-eval before it plans a run in a mode: for each task name, the
# tasks it runs, with how each scores (`output_type`) and its own generation settings. Read from
# lm-eval's task index and YAML files only (functions unresolved, no dataset loaded), so it costs
# one index walk. Arguments: task names (comma-separated), include path, the lm_eval program and
# its version (which only tell answers apart). Prints one JSON object:
# {"program": ..., "include": ..., "tasks": {name: [leaf, ...] or null when unknown}}.
import json
import sys

from lm_eval.tasks import TaskManager
from lm_eval.tasks._index import Kind
from lm_eval.tasks._yaml_loader import load_yaml


def config_of(entry):
    if entry.yaml_path is not None:
        return load_yaml(entry.yaml_path, resolve_func=False)
    return dict(entry.cfg or {})


def describe(name, cfg):
    output_type = cfg.get("output_type", "generate_until")
    leaf = {"task": name, "output_type": output_type}
    if output_type == "generate_until":
        kwargs = cfg.get("generation_kwargs") or {}
        until = kwargs.get("until", [cfg.get("fewshot_delimiter", "\n\n")])
        leaf["until"] = [until] if isinstance(until, str) else list(until)
        leaf["max_gen_toks"] = kwargs.get("max_gen_toks")
    return leaf


def leaves(index, name, overrides, seen):
    entry = index.get(name)
    if entry is None or name in seen:
        return []
    seen = seen | {name}
    if entry.kind == Kind.TAG:
        return [leaf for task in sorted(entry.tags) for leaf in leaves(index, task, overrides, seen)]
    cfg = {**config_of(entry), **overrides}
    if entry.kind == Kind.PY_TASK:
        return [{"task": name, "output_type": "unknown"}]
    if entry.kind != Kind.GROUP:
        return [describe(name, cfg)]
    found = []
    members = cfg.get("task")
    for member in members if isinstance(members, list) else []:
        if isinstance(member, str):
            found += leaves(index, member, {}, seen)
        elif isinstance(member, dict) and "task" in member:
            inline = {k: v for k, v in member.items() if k != "task"}
            if member["task"] in index:
                found += leaves(index, member["task"], inline, seen)
            else:
                found.append(describe(member["task"], member))
        elif isinstance(member, dict) and "group" in member:
            found += leaves(index, member["group"], {}, seen)
    return found


def main():
    names = [n for n in sys.argv[1].split(",") if n]
    include = sys.argv[2] or None
    index = TaskManager(include_path=include).task_index
    tasks = {n: (leaves(index, n, {}, frozenset()) if n in index else None) for n in names}
    print(json.dumps({"program": sys.argv[3], "include": sys.argv[2], "tasks": tasks}))


main()
