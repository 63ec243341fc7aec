"""Replace catalogue entries by splicing text, so that every line outside them keeps its bytes.

A rollout that holds an image writes main@C's `manifests/images.yml` with the held entries taken from
production. Loading and dumping the YAML would re-indent every entry (ruamel's default sequence style is
not necessarily the file's), and the merge would then rewrite a file that neither branch changed. So an
entry is located by the line numbers the round-trip loader records, and only its lines are replaced: by
production's lines for that entry, shifted to the column main's entries start at.

An entry's lines run from its `- ` line to the last line before the next entry (or the end of the
`images:` block) that belongs to it: blank lines and comments at or left of the dash column that follow
an entry separate it from the next one and stay where main wrote them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lifecycle.catalogue.catalog import qualified
from lifecycle.errors import OperationError


@dataclass(frozen=True)
class _Entry:
    tagbase: str
    start: int      # index of the entry's first line (its dash)
    end: int        # index one past its last line
    dash: int       # column of its dash


def _loader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _name(doc: CommentedMap, entry: CommentedMap) -> str:
    """An entry's catalogue name: tags are unique per repository, so the tag base alone may be ambiguous."""
    default = str(doc.get("repository", ""))
    return qualified(str(entry.get("repository") or default), str(entry["tagBase"]), default)


def _names(text: str) -> dict[str, CommentedMap]:
    doc = _loader().load(text)
    return {_name(doc, e): e for e in doc["images"]}


def _is_separator(line: str, dash: int) -> bool:
    stripped = line.strip()
    return not stripped or (stripped.startswith("#") and _indent(line) <= dash)


def _entries(text: str) -> tuple[list[str], list[_Entry], int] | None:
    """(lines with their endings, the entries of `images:`, index one past the block), or None when the
    file cannot be spliced (no block sequence of mappings under `images:`)."""
    doc = _loader().load(text)
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("images"), CommentedSeq):
        return None
    images: CommentedSeq = doc["images"]
    if images.fa.flow_style() or not images or not all(isinstance(e, CommentedMap) for e in images):
        return None
    lines = text.splitlines(keepends=True)
    keys = list(doc.keys())
    after = keys[keys.index("images") + 1:]
    block_end = doc.lc.key(after[0])[0] if after else len(lines)
    starts: list[tuple[int, int]] = []
    for i in range(len(images)):
        line, col = images.lc.item(i)
        dash = lines[line].rfind("-", 0, col + 1)
        while dash < 0 and line > 0:   # "-" alone on its line, the mapping below it
            line -= 1
            dash = lines[line].rstrip().rfind("-")
        if dash < 0:
            return None
        starts.append((line, dash))
    entries = []
    for i, (start, dash) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else block_end
        while end > start + 1 and _is_separator(lines[end - 1], dash):
            end -= 1
        entries.append(_Entry(_name(doc, images[i]), start, end, dash))
    return lines, entries, block_end


def _shift(lines: list[str], by: int) -> list[str]:
    if by >= 0:
        return [(" " * by + line) if line.strip() else line for line in lines]
    return [line[min(-by, _indent(line)):] for line in lines]


def _ending(lines: list[str]) -> list[str]:
    """The lines with a newline after the last one (an entry at the end of a file may lack it)."""
    if lines and not lines[-1].endswith("\n"):
        return lines[:-1] + [lines[-1] + "\n"]
    return lines


def splice_entries(candidate_text: str, production_text: str, tagbases: list[str]) -> str:
    """`candidate_text` with the entry of each tag base in `tagbases` replaced by production's entry
    (appended when only production has it, removed when only the candidate has it). Every other line
    keeps its bytes. Falls back to a round-trip dump only for a catalogue without block-style entries."""
    cand = _entries(candidate_text)
    prod = _entries(production_text)
    if cand is None or prod is None:
        return _dumped(candidate_text, production_text, tagbases)
    lines, entries, block_end = cand
    prod_lines, prod_entries, _ = prod
    by_tag = {e.tagbase: e for e in entries}
    prod_by_tag = {e.tagbase: e for e in prod_entries}
    dash = entries[0].dash
    # (start, end, replacement) edits, applied bottom-up so earlier indexes stay valid
    edits: list[tuple[int, int, list[str]]] = []
    appended: list[str] = []
    for tagbase in tagbases:
        mine, theirs = by_tag.get(tagbase), prod_by_tag.get(tagbase)
        new = _ending(_shift(prod_lines[theirs.start:theirs.end], dash - theirs.dash)) if theirs else None
        if mine is not None and new is not None:
            edits.append((mine.start, mine.end, new))
        elif mine is not None:
            start = mine.start
            while start > 0 and not lines[start - 1].strip():   # its separator goes with it
                start -= 1
            edits.append((start, mine.end, []))
        elif new is not None:
            spaced = len(entries) > 1 and not lines[entries[-1].start - 1].strip()
            appended += (["\n"] if spaced else []) + new
    if appended:
        last = entries[-1].end
        edits.append((last, last, appended))
        if not lines[last - 1].endswith("\n"):
            lines[last - 1] += "\n"
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:end] = new
    text = "".join(lines)
    _check(text, production_text, tagbases)
    return text


def _plain(node: object) -> object:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node if node is None or isinstance(node, (bool, int, float)) else str(node)


def _check(text: str, production_text: str, tagbases: list[str]) -> None:
    """The spliced file must read as production's entries for the held images: a splice that produced
    anything else (a layout this module misread) must not become a commit."""
    try:
        got = {name: _plain(e) for name, e in _names(text).items()}
    except Exception as exc:  # noqa: BLE001 - any parse failure means the splice went wrong
        raise OperationError(f"held catalogue entries could not be written ({type(exc).__name__}: {exc})") from None
    want = {name: _plain(e) for name, e in _names(production_text).items()}
    for tagbase in tagbases:
        if got.get(tagbase) != want.get(tagbase):
            raise OperationError(f"held catalogue entry {tagbase} could not be written: the spliced "
                                 f"manifests/images.yml does not read as production's entry")


def _dumped(candidate_text: str, production_text: str, tagbases: list[str]) -> str:
    yaml = _loader()
    yaml.width = 4096  # never re-wrap a line main wrote
    doc = yaml.load(candidate_text)
    prod_entries = _names(production_text)
    images = doc["images"]
    for tagbase in tagbases:
        index = next((i for i, e in enumerate(images) if _name(doc, e) == tagbase), None)
        entry = prod_entries.get(tagbase)
        if index is None:
            if entry is not None:
                images.append(entry)
        elif entry is None:
            del images[index]
        else:
            images[index] = entry
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()
