"""benchy's demo inspect task: arithmetic questions from a file shipped beside it (no download),
answered by one generation each and scored by whether the answer ends with the expected number."""

from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate

HERE = Path(__file__).parent


@task
def benchy_demo(samples: int = 8):
    """The first `samples` questions of benchy_demo.jsonl."""
    dataset = json_dataset(
        str(HERE / "benchy_demo.jsonl"),
        FieldSpec(input="question", target="answer", id="id"),
    )
    return Task(dataset=dataset[:samples], solver=generate(), scorer=match(numeric=True))
