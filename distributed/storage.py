"""Reading and writing experiment files on a local folder or a bucket (``s3://``, ``gs://``), the one
place that tells them apart. Used by the search (state, export) and by the prepared-data cache."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

from distributed.settings import STATE_FILE, SearchError


def is_uri(path: str | Path) -> bool:
    """A bucket URI (``s3://...``) rather than a path on this node's disk."""
    return "://" in str(path)


def resolve_storage(storage: str | None) -> str:
    """An absolute path or a URI (Ray resolves storage on every node; a relative path fails there)."""
    if storage and is_uri(storage):
        return storage.rstrip("/")
    return str(Path(storage or Path.home() / "ray_results").expanduser().resolve())


def write_text(uri: str, text: str) -> None:
    if is_uri(uri):
        fs, path = pafs.FileSystem.from_uri(uri)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path) as f:
            f.write(text.encode())
    else:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        Path(uri).write_text(text)


def read_text(uri: str) -> str | None:
    """The file's text, or None where it does not exist."""
    if is_uri(uri):
        fs, path = pafs.FileSystem.from_uri(uri)
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        with fs.open_input_stream(path) as f:
            return f.read().decode()
    return Path(uri).read_text() if Path(uri).is_file() else None


def json_lines(path: Path) -> list[dict]:
    """The rows of a local JSON-lines log such as Tune's result.json (none where it is missing; a line being
    written is left out)."""
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def exists(uri: str) -> bool:
    if not is_uri(uri):
        return Path(uri).exists()
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def list_dirs(uri: str) -> list[str]:
    """Names of the folders directly under ``uri`` (none where it does not exist)."""
    if not is_uri(uri):
        return sorted(p.name for p in Path(uri).iterdir() if p.is_dir()) if Path(uri).is_dir() else []
    fs, path = pafs.FileSystem.from_uri(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)


def remove_tree(uri: str) -> None:
    """Delete a folder (or a bucket prefix) and everything under it; nothing happens where it does not exist."""
    if not is_uri(uri):
        shutil.rmtree(uri, ignore_errors=True)
        return
    fs, path = pafs.FileSystem.from_uri(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)


def upload_dir(local: str | Path, uri: str) -> None:
    pafs.copy_files(str(local), uri)


def download_dir(uri: str, local: str | Path) -> None:
    pafs.copy_files(uri, str(local))


def latest_experiment(storage: str) -> str | None:
    """The most recently written experiment under a local storage folder (for --resume without --name)."""
    if is_uri(storage) or not Path(storage).is_dir():
        return None
    found = sorted(Path(storage).glob(f"*/{STATE_FILE}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent.name if found else None


def local_experiment(exp_path: str) -> Path:
    """A local folder holding the experiment: itself, or a fresh download of a bucket's copy."""
    if not is_uri(exp_path):
        p = Path(exp_path).expanduser().resolve()
        if not p.is_dir():
            raise SearchError(f"{p}: no such experiment folder")
        return p
    local = Path(tempfile.mkdtemp(prefix="xmlai-exp-"))
    download_dir(exp_path, local)
    return local
