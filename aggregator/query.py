"""The search query language, one for every store: parsed here, compiled to each engine's syntax.

``offshore wind`` (every word), ``"floating foundations"`` (a phrase), ``turb*`` (a prefix),
``-solar`` or ``NOT solar`` (without), ``wind OR solar`` (either side; AND binds tighter and is
implied between words). Operators are upper case; in lower case they are words.

Handing the user's text to the engine made two languages with two behaviours: FTS5 rejected a stray
quote with its raw SQL in the message, PostgreSQL's websearch_to_tsquery silently matched nothing
for ``turb*``. So the text is read here, tolerantly (a stray quote closes at the end, a stray
operator or a lone ``*`` is dropped), into terms of letters and digits only, and each compiler
quotes every term: whatever the user types, the engine sees a well-formed query. The only error is
a query with nothing to look for (InvalidQuery). No store imports: the stores import this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.errors import InvalidQuery

#: What a term is made of: runs of letters and digits (no underscore), the way FTS5's unicode61
#: and PostgreSQL's parser split text, joined by inner dots: PostgreSQL keeps ``U.S.`` and
#: ``3.5`` as one token ('u.s'), FTS5 splits them into a phrase ("u s"); either way the same
#: articles match. No other punctuation reaches SQL.
_WORD = re.compile(r"[^\W_]+(?:\.[^\W_]+)*")
#: A token: a quoted phrase (its closing quote optional), or a run of anything but space and quote.
_TOKEN = re.compile(r'"([^"]*)"?|([^\s"]+)')
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, or a phrase of words in order; ``prefix`` matches the last
    word as the start of a word."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query: any of ``clauses`` matches; a clause matches when all its positive terms do
    and none of its negated ones."""

    text: str
    clauses: tuple[tuple[Term, ...], ...]

    @property
    def words(self) -> list[str]:
        """The words looked for (not the excluded ones), for highlighting."""
        return list(
            dict.fromkeys(w for clause in self.clauses for t in clause if not t.negated for w in t.words)
        )


def parse(text: str) -> Query:
    """Read a query; raises InvalidQuery (carrying the text) when nothing is left to look for."""
    clauses: list[tuple[Term, ...]] = []
    current: list[Term] = []
    negate = False
    for match in _TOKEN.finditer(text):
        phrase, bare = match.group(1), match.group(2)
        if phrase is None:
            if bare in _OPERATORS:
                if bare == "OR" and current:
                    clauses.append(tuple(current))
                    current = []
                negate = bare == "NOT" or (negate and bare == "AND")
                continue
            minus = bare.startswith("-")
            prefix = bare.endswith("*")
            words = tuple(w.casefold() for w in _WORD.findall(bare))
            if minus and not words and match.end() < len(text) and text[match.end()] == '"':
                # -"a phrase": the minus belongs to the phrase that follows.
                negate = True
                continue
        else:
            minus, prefix = False, False
            words = tuple(w.casefold() for w in _WORD.findall(phrase))
            trailing = text[match.end() : match.end() + 1]
            prefix = trailing == "*"
        if words:
            current.append(Term(words, prefix, negated=negate or minus))
        negate = False
    if current:
        clauses.append(tuple(current))
    clauses = [c for c in clauses if c]
    if not clauses:
        raise InvalidQuery(text, "it has no words to look for")
    for clause in clauses:
        if all(t.negated for t in clause):
            raise InvalidQuery(text, "it only excludes words; add a word to look for")
    return Query(text, tuple(clauses))


def _fts5_term(term: Term) -> str:
    return '"' + " ".join(term.words) + '"' + (" *" if term.prefix else "")


def to_fts5(query: Query) -> str:
    """An FTS5 MATCH expression: every term a quoted string, so no user text is FTS5 syntax."""
    parts = []
    for clause in query.clauses:
        positive = " AND ".join(_fts5_term(t) for t in clause if not t.negated)
        negative = "".join(f" NOT {_fts5_term(t)}" for t in clause if t.negated)
        parts.append(f"({positive}){negative}" if negative else f"({positive})")
    return " OR ".join(parts)


def _ts_term(term: Term) -> str:
    lexemes = [f"'{w}'" for w in term.words]
    if term.prefix:
        lexemes[-1] += ":*"
    body = " <-> ".join(lexemes)
    if len(lexemes) > 1:
        body = f"({body})"
    return f"!{body}" if term.negated else body


def to_tsquery(query: Query) -> str:
    """A PostgreSQL to_tsquery text: each word a quoted lexeme (stemmed by to_tsquery with the
    index's configuration), phrases with ``<->``, prefixes with ``:*``."""
    return " | ".join("(" + " & ".join(_ts_term(t) for t in clause) + ")" for clause in query.clauses)
