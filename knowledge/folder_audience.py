"""Folder audiences: an `_audience.yml` gives the documents of its folder (and of the
folders under it) their audience, unless a document's front matter gives its own.

    # docs/elite/_audience.yml — the whole file is the audience (knowledge/audience.py)
    tiers: [Elite]

The nearest `_audience.yml` above a document applies. A file that cannot be read fails
the documents under it (their indexed versions stay as they were, and nothing new there
becomes searchable), never makes them public.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml

from knowledge import bounded_yaml
from knowledge.audience import Audience, AudienceError
from knowledge.loaders import LoadError, link_problem, read_file

AUDIENCE_FILE = "_audience.yml"
MAX_AUDIENCE_BYTES = 64 * 1024


class FolderAudiences:
    """The `_audience.yml` files of one documents folder, each read once per index run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._read: dict[str, Audience | LoadError | None] = {}

    def for_file(self, rel: str) -> tuple[str, Audience] | None:
        """(the file's path, its audience) of the nearest `_audience.yml` above a document
        (given relative to the root), or None. LoadError (naming that file) when it is bad."""
        folder = PurePosixPath(rel).parent
        for parent in (folder, *folder.parents):
            where = "" if str(parent) == "." else f"{parent}/"
            found = self._audience(where)
            if isinstance(found, LoadError):
                raise LoadError(f"{where}{AUDIENCE_FILE}: {found}")
            if found is not None:
                return f"{where}{AUDIENCE_FILE}", found
        return None

    def _audience(self, folder: str) -> Audience | LoadError | None:
        if folder not in self._read:
            self._read[folder] = self._load(folder)
        return self._read[folder]

    def _load(self, folder: str) -> Audience | LoadError | None:
        path = self.root / folder / AUDIENCE_FILE
        if not (path.exists() or path.is_symlink()):
            return None
        try:
            problem = link_problem(path, self.root)
            if problem:
                raise LoadError(problem)
            data = read_file(path)
            if len(data) > MAX_AUDIENCE_BYTES:
                raise LoadError(f"larger than {MAX_AUDIENCE_BYTES // 1024} KB")
            value = bounded_yaml.load(data.decode("utf-8-sig"))
            if isinstance(value, dict) and set(value) == {"audience"}:
                value = value["audience"]
            audience = Audience.parse(value)
        except LoadError as e:
            return e
        except UnicodeDecodeError:
            return LoadError("not valid UTF-8")
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            return LoadError(f"invalid YAML{where}: {getattr(e, 'problem', None) or e}")
        except AudienceError as e:
            return LoadError(str(e))
        if audience.public and not audience.given:
            return LoadError("it names no audience (give tags, or `everyone`)")
        return audience
