"""huggingface_hub driven by benchy's tests and benchmarks against the stand-in Hub.

huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN and HF_HUB_OFFLINE from the
environment when it is imported, exactly as it does for a user. Each command prints one JSON
object on stdout:

  download REPO REVISION          hf_hub_download -> {"path", "target", "text", "version"}, or
                                  {"error": <exception class>, "version"} when it raises
  cached REPO REVISION            try_to_load_from_cache and hf_hub_download(local_files_only=True)
  time REPO REVISION COUNT [cold]  COUNT calls of hf_hub_download -> {"seconds": [...]}; with
                                  `cold`, each call gets an empty cache folder of its own
"""

import json
import os
import sys
import tempfile
import time

import huggingface_hub
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.constants import HF_HUB_CACHE
from huggingface_hub.file_download import _CACHED_NO_EXIST

FILE = "generation_config.json"


def download(repo, revision):
    try:
        path = hf_hub_download(repo, FILE, revision=revision)
    except Exception as error:  # the class name is what the test compares
        return {"error": type(error).__name__, "version": huggingface_hub.__version__}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return {
        "path": path,
        "target": os.path.realpath(path),
        "text": text,
        "version": huggingface_hub.__version__,
    }


def cached(repo, revision):
    found = try_to_load_from_cache(repo, FILE, revision=revision)
    if found is _CACHED_NO_EXIST:
        found = "_CACHED_NO_EXIST"
    try:
        local = hf_hub_download(repo, FILE, revision=revision, local_files_only=True)
        with open(local, encoding="utf-8") as f:
            text = f.read()
    except Exception as error:  # the class name is what the test compares
        local, text = type(error).__name__, None
    return {"try_to_load_from_cache": found, "local_files_only": local, "text": text}


def timed(repo, revision, count, mode="warm"):
    seconds = []
    for _ in range(int(count)):
        cache_dir = tempfile.mkdtemp(prefix="cold-", dir=HF_HUB_CACHE) if mode == "cold" else None
        start = time.perf_counter()
        hf_hub_download(repo, FILE, revision=revision, cache_dir=cache_dir)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds}


def main():
    command, *args = sys.argv[1:]
    run = {"download": download, "cached": cached, "time": timed}[command]
    print(json.dumps(run(*args)))


if __name__ == "__main__":
    main()
