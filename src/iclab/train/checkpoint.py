"""Checkpoints without pickle: array leaves via ``eqx.tree_serialise_leaves`` (numpy .npy records) plus JSON.

A checkpoint directory holds ``meta.json`` (step, seeds, history so far, free-form user metadata) and the state file
it names, ``state_<step>.eqx``. The state is written first and the metadata last (each by an atomic rename), so a
crash never leaves metadata pointing at a missing or partial state; older state files are removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import equinox as eqx

from iclab.validation import UserInputError

META = "meta.json"


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise it: a checkpoint is written whole or not at all, and
    the old state file is removed only once the new metadata names the new one. Main thread only (elsewhere
    signals cannot be handled and the block runs as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if caught:
        raise KeyboardInterrupt


def save_checkpoint(directory: Path | str, state: Any, meta: dict[str, Any]) -> Path:
    """Write ``state`` (a PyTree of arrays) and ``meta`` (JSON-serialisable, must contain an int ``step``).
    A Ctrl-C during the write takes effect once the checkpoint is complete."""
    with _interrupts_deferred():
        return _save(Path(directory), state, meta)


def _save(directory: Path, state: Any, meta: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"state_{int(meta['step']):010d}.eqx"
    tmp = directory / (name + ".tmp")
    eqx.tree_serialise_leaves(tmp, state)
    os.replace(tmp, directory / name)
    tmp_meta = directory / (META + ".tmp")
    tmp_meta.write_text(json.dumps({**meta, "state_file": name}, indent=1))
    os.replace(tmp_meta, directory / META)
    for old in directory.glob("state_*.eqx"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return directory / name


def read_meta(directory: Path | str) -> dict[str, Any] | None:
    """The metadata of the checkpoint in ``directory``, or None if there is none."""
    path = Path(directory) / META
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserInputError(f"checkpoint metadata {path} is not valid JSON ({e})") from None


def load_checkpoint(directory: Path | str, like: Any) -> tuple[Any, dict[str, Any]]:
    """Load the state into a PyTree shaped like ``like`` (same structure, shapes and dtypes); returns (state, meta)."""
    meta = read_meta(directory)
    if meta is None:
        raise UserInputError(f"checkpoint_dir must hold a checkpoint ({Path(directory) / META} not found)")
    state = eqx.tree_deserialise_leaves(Path(directory) / meta["state_file"], like)
    return state, meta
