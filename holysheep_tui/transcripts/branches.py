"""A conversation's messages as an export shows them: the active path, and optionally every other branch.

At each place on a line where a message has siblings (a regenerated answer, an edited prompt; the same
parent and role, as ``Conversation.alternatives`` defines them), a ``Turn`` says which of them it is, and
with ``all_branches`` it carries the others as ``Alternative``s. An alternative's line runs from it to the
newest message below it; the branches met on that line nest inside it in the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from holysheep_tui.store.models import Conversation, Message


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another branch at a place: the ``index``-th of ``count`` siblings, with the line below it."""

    index: int
    count: int
    turns: tuple[Turn, ...]

    @property
    def messages(self) -> tuple[Message, ...]:
        """Every message of this branch's subtree, its nested alternatives included."""
        return tuple(m for t in self.turns for m in t.subtree)


@dataclass(frozen=True, slots=True)
class Turn:
    message: Message
    place: tuple[int, int] | None = None
    """(k, n): the message is the k-th of n siblings; None when it has none."""
    alternatives: tuple[Alternative, ...] = ()
    """The other siblings, in id order (only when the export asked for every branch)."""

    @property
    def subtree(self) -> tuple[Message, ...]:
        return (self.message, *(m for a in self.alternatives for m in a.messages))


def turns(conv: Conversation, *, all_branches: bool = False) -> tuple[Turn, ...]:
    """The active path as turns; with ``all_branches``, every other branch nested where it splits off."""
    return _Walker(conv, all_branches).line(conv.messages, first_is_placed=False)


class _Walker:
    def __init__(self, conv: Conversation, all_branches: bool) -> None:
        self.all_branches = all_branches
        self.children: defaultdict[int | None, list[Message]] = defaultdict(list)
        for m in conv.tree:  # id order: each list is in id order
            self.children[m.parent_id].append(m)
        self.newest: dict[int, int] = {}
        for m in reversed(conv.tree):  # children (newer ids) before their parents
            below = [self.newest.get(c.id, c.id) for c in self.children.get(m.id, ())]
            self.newest[m.id] = max([m.id, *below])
        self.seen: set[int] = set()  # a damaged, cyclic tree still ends

    def siblings(self, m: Message) -> list[Message]:
        return [s for s in self.children.get(m.parent_id, ()) if s.role == m.role] or [m]

    def line(self, messages: tuple[Message, ...], *, first_is_placed: bool) -> tuple[Turn, ...]:
        out: list[Turn] = []
        for n, m in enumerate(messages):
            self.seen.add(m.id)
            if n == 0 and first_is_placed:  # its siblings belong to the enclosing place
                out.append(Turn(m))
                continue
            sibs = self.siblings(m)
            place = (sibs.index(m) + 1, len(sibs)) if len(sibs) > 1 and m in sibs else None
            alternatives: tuple[Alternative, ...] = ()
            if self.all_branches and place is not None:
                alternatives = tuple(
                    Alternative(k + 1, len(sibs), self.line(self.line_below(s), first_is_placed=True))
                    for k, s in enumerate(sibs)
                    if s.id != m.id and s.id not in self.seen
                )
            out.append(Turn(m, place, alternatives))
        return tuple(out)

    def line_below(self, start: Message) -> tuple[Message, ...]:
        """``start`` and the path down to the newest message in its subtree."""
        path = [start]
        self.seen.add(start.id)
        node = start
        while True:
            kids = [c for c in self.children.get(node.id, ()) if c.id not in self.seen]
            if not kids:
                return tuple(path)
            node = max(kids, key=lambda c: self.newest.get(c.id, c.id))
            self.seen.add(node.id)
            path.append(node)
