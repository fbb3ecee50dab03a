"""Folder audiences: an `_audience.yml` gives the documents of its folder (and of the
folders under it) their audience, unless a document's front matter gives its own.

    # docs/elite/_audience.yml — the whole file is the audience (knowledge/audience.py)
    tiers: [Elite]

The nearest `_audience.yml` above a document applies (`_audience.yaml`, in any case, too).
A file that cannot be read — or one named nearly so (`_audiences.yml`, `audience.yml`) —
fails the documents under it (their indexed versions stay as they were, and nothing new
there becomes searchable), never makes them public.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import yaml

from knowledge import bounded_yaml
from knowledge.audience import Audience, AudienceError
from knowledge.formats import is_audience_key
from knowledge.loaders import LoadError, link_problem, read_file

AUDIENCE_FILE = "_audience.yml"
AUDIENCE_FILES = frozenset({"_audience.yml", "_audience.yaml"})  # read in any case
MAX_AUDIENCE_BYTES = 64 * 1024


def audience_files(folder: Path) -> list[str]:
    """The names in a folder that are, or look like, its audience file: `_audience.yml` or
    `.yaml` in any case, and near misses (`_audiences.yml`, `audience.yml`, `Audience.yaml`)."""
    names = []
    for entry in os.scandir(folder):
        stem, dot, suffix = entry.name.casefold().rpartition(".")
        if dot and suffix in ("yml", "yaml") and stem.lstrip("_.") in ("audience", "audiences"):
            names.append(entry.name)
    return sorted(names)


class FolderAudiences:
    """The `_audience.yml` files of one documents folder, each read once per index run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._read: dict[str, tuple[str, Audience] | LoadError | None] = {}

    def for_file(self, rel: str) -> tuple[str, Audience] | None:
        """(the file's path, its audience) of the nearest `_audience.yml` above a document
        (given relative to the root), or None. LoadError (naming that file) when it is bad."""
        folder = PurePosixPath(rel).parent
        for parent in (folder, *folder.parents):
            where = "" if str(parent) == "." else f"{parent}/"
            found = self._audience(where)
            if isinstance(found, LoadError):
                raise LoadError(f"{where}{found}")
            if found is not None:
                return f"{where}{found[0]}", found[1]
        return None

    def _audience(self, folder: str) -> tuple[str, Audience] | LoadError | None:
        if folder not in self._read:
            self._read[folder] = self._load(folder)
        return self._read[folder]

    def _load(self, folder: str) -> tuple[str, Audience] | LoadError | None:
        """(its name, its audience), None without one; a LoadError starting with the name."""
        try:
            found = audience_files(self.root / folder)
        except OSError as e:
            return LoadError(f"{AUDIENCE_FILE}: the folder could not be read ({e.strerror})")
        near = [name for name in found if name.casefold() not in AUDIENCE_FILES]
        if near:  # a slip must not leave the folder public: refuse until it is renamed
            return LoadError(f"{near[0]}: looks like an audience file; name it {AUDIENCE_FILE}")
        if len(found) > 1:
            return LoadError(f"{found[0]}: {found[1]} too; give the audience in one file")
        if not found:
            return None
        name = found[0]
        try:
            return name, self._read_file(self.root / folder / name)
        except LoadError as e:
            return LoadError(f"{name}: {e}")

    def _read_file(self, path: Path) -> Audience:
        try:
            problem = link_problem(path, self.root)
            if problem:
                raise LoadError(problem)
            data = read_file(path)
            if len(data) > MAX_AUDIENCE_BYTES:
                raise LoadError(f"larger than {MAX_AUDIENCE_BYTES // 1024} KB")
            value = bounded_yaml.load(data.decode("utf-8-sig"))
            if isinstance(value, dict) and len(value) == 1 and is_audience_key(next(iter(value))):
                value = next(iter(value.values()))  # `audience: …` around it, in any near form
            audience = Audience.parse(value)
        except UnicodeDecodeError:
            raise LoadError("not valid UTF-8") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise LoadError(f"invalid YAML{where}: {getattr(e, 'problem', None) or e}") from None
        except AudienceError as e:
            raise LoadError(str(e)) from None
        if audience.public and not audience.given:
            raise LoadError("it names no audience (give tags, or `everyone`)")
        return audience
