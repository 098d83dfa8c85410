"""The CLI's exit statuses, defined once: every command returns one of these, `--help` and the
README list them (`EPILOG`), and scripts can tell the outcomes apart.

Why these numbers: 0 and 2 are what every Unix tool and argparse already mean (success, usage);
1 stays "an input could not be read" because that is what the README has always promised and
scripts may test it; the outcomes added later get their own codes (3, 4, 5) instead of sharing
1, so "nothing matched" or "the output file is in the way" are never mistaken for a bad input.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """Exit statuses. When several apply, the highest-ranked wins: an output failure (4, 5), then
    an unreadable input (1), then no match (3): a missing match may be caused by a missing input."""

    #: Every input loaded (parse issues inside a file are reported, not fatal).
    OK = 0
    #: At least one input could not be read at all, or a directory given as input only in part (its
    #: search fell short: too deep, a folder unreadable); the others were still processed.
    #: `rules update`: its one input, the release zip (`--from URL|ZIP`), could not be downloaded
    #: (no network, a refused connection, an HTTP error), read or installed from (not a zip, an
    #: unsafe path, no rules in it); `rules check`: a rule file did not parse. A download failure is
    #: an input that could not be read, not an outcome of its own: no status of its own for it.
    INPUT_UNREADABLE = 1
    #: A usage error: bad options, a bad query, a bad rules file, no input, an unknown command, the
    #: app without a terminal.
    USAGE = 2
    #: `correlate`: no event matched the record ID or the query.
    NO_MATCH = 3
    #: `export`: the output file exists and `--force` was not given.
    OUTPUT_EXISTS = 4
    #: `export`: the output could not be written (missing directory, a directory, disk full, ...);
    #: `prepare`: nothing could be kept in the cache (`--no-cache`, no writable cache directory);
    #: `convert`: the dataset could not be written (`--to` is no directory, disk full, ...); any
    #: command: its standard output could not be written (`cli.output.OutputFailed`).
    OUTPUT_FAILED = 5
    #: Interrupted with Ctrl-C.
    INTERRUPTED = 130


#: Worst first: which status a command reports when several apply (see `Exit`).
_RANK = (Exit.OUTPUT_FAILED, Exit.OUTPUT_EXISTS, Exit.INPUT_UNREADABLE, Exit.NO_MATCH)


def worst(*statuses: Exit) -> Exit:
    """The status to report when several outcomes apply (`Exit`'s order)."""
    for status in _RANK:
        if status in statuses:
            return status
    return Exit.OK


EPILOG = """exit status:
  0  every input loaded (parse issues inside a file are reported, not fatal)
  1  an input could not be read, or a directory only in part (the others were still processed);
     rules update: the rules zip could not be downloaded or used; rules check: a file did not parse
  2  usage error: bad option, bad query, bad rules file, no input, unknown command, app without a terminal
  3  correlate: no event matched
  4  export: the output file exists (use --force to replace it)
  5  export, convert, any command's stdout: the output could not be written; prepare: nothing kept
  130 interrupted (Ctrl-C)
when several apply: 5, 4, then 1, then 3."""
