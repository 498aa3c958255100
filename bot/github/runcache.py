"""What one bot run already knows about GitHub, so it asks each question once.

A run is one Actions job: seconds to minutes, one `GitHubForge`. Only facts the run itself established, or
that only its own writes can change, are kept:
- an issue's comments, listed once and then kept current by the bot's own posts and edits (the bot looks
  only for its own marker comments, which no one else writes);
- the pull requests this run opened: no comment can be on them yet, and the first look at their reviews
  (the approval state published right after opening) is known to find none; later looks ask GitHub, since
  people may have reviewed in the meantime, and so does any look after the run read the pull request
  again (a caller that re-reads it is looking at a later moment);
- the commits this run created, on which no check run can exist yet, and the check runs it created or found;
- the body of a pull request this run opened, as it wrote it: its model card section is put in moments later
  without reading the body back (someone who edits the body in those seconds would see the edit replaced);
- the workflows this run dispatched, with their inputs: one run that meets the same need twice (the schedule's
  sync, then its sweep) asks for it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunCache:
    comments: dict[int, list[Any]] = field(default_factory=dict)  # issue number -> its comments (PyGithub)
    unreviewed: set[int] = field(default_factory=set)
    own_commits: set[str] = field(default_factory=set)
    check_runs: dict[tuple[str, str], Any] = field(default_factory=dict)  # (sha, name) -> check run (PyGithub)
    bodies: dict[int, str] = field(default_factory=dict)  # pull request this run opened -> its body as written
    dispatches: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)  # (workflow, inputs)

    def opened(self, number: int, body: str | None = None) -> None:
        """A pull request this run has just created: nothing is on it yet, and its body is what the run wrote."""
        self.comments[number] = []
        self.unreviewed.add(number)
        if body is not None:
            self.bodies[number] = body

    def first_review_read(self, number: int) -> bool:
        """True once, for a pull request this run opened: its reviews are known to be none."""
        if number in self.unreviewed:
            self.unreviewed.discard(number)
            return True
        return False

    def forget_reviews(self, number: int) -> None:
        self.unreviewed.discard(number)

    def remember_comment(self, number: int, comment: Any) -> None:
        """A comment the bot posted (or found after an ambiguous failure): add it to the listing, if known."""
        known = self.comments.get(number)
        if known is not None and all(c.id != comment.id for c in known):
            known.append(comment)
