"""The command line itself, as a new user types it: a mistyped command is said to be one (it was
taken for a file and opened the app, which never returned without a terminal), the app refuses
to start without a terminal, a query starting with `-` is taken as the option's value, a bad
option is shown with its own command's usage (`demo --help` included), and `--jobs` outside
what the help promises is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli import cmd_open
from cli.main import build_parser, joined_queries, parse, routed
from tests.apputil import ROOT
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = "2015-11-12T02:24:52.3773525Z"


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    return write_events(tmp_path / "sec.xml", [
        event_xml(4688, 7, T0, {"NewProcessId": "0xc8c", "NewProcessName": "C:\\Windows\\System32\\cmd.exe"}),
        event_xml(4624, 8, T0, {"TargetUserName": "bob"}, computer="DC01"),
    ])


# -- a mistyped command ------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "said"), [
    ("stat", "unknown command 'stat' (did you mean stats?)"),
    ("querry", "unknown command 'querry' (did you mean query?)"),
    ("xyzzy", "unknown command 'xyzzy' (commands: stats, query, "),
])
def test_a_mistyped_command_is_a_usage_error(word: str, said: str, log: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_open, "make_app", lambda files, args: pytest.fail("the app was started"))
    status, out, err = run_cli(word, str(log))
    assert status == 2 and out == ""
    assert err.startswith(f"evtx-explorer: {said}") and len(err.splitlines()) == 1, err


def test_a_file_is_still_opened_whatever_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a first word that is no file and reads as a command word is refused: an existing
    file named `stat`, a log name, a path, an option go to the app as before."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stat").write_text("", encoding="utf-8")
    assert routed(["stat"]) == ["open", "stat"]
    for words in (["missing.evtx"], ["logs/x"], ["--no-cache", "a.evtx"], ["./querry"]):
        assert routed(words) == ["open", *words]
    assert routed([]) == ["open"]
    assert routed(["stats", "x"]) == ["stats", "x"] and routed(["demo"]) == ["demo"]


def test_a_mistyped_command_without_a_terminal_returns_at_once(log: Path) -> None:
    """The user's case: `evtx-explorer stat FILE` in a script (no terminal) started the app,
    which waited for ever."""
    code = "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"
    try:
        done = subprocess.run([sys.executable, "-c", code, "stat", str(log)], cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("`evtx-explorer stat FILE` did not return")
    assert done.returncode == 2 and "did you mean stats?" in done.stderr and done.stdout == ""


# -- the app without a terminal ----------------------------------------------------------------


@pytest.mark.parametrize("argv", [["open", "LOG"], ["LOG"], ["demo"], ["demo", "LOG"]])
def test_the_app_needs_a_terminal(argv: list[str], log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_open, "make_app", lambda files, args: pytest.fail("the app was started"))
    status, out, err = run_cli(*(str(log) if a == "LOG" else a for a in argv))
    assert status == 2 and out == ""
    assert err == cmd_open.NO_TERMINAL + "\n"
    assert "stats" in cmd_open.NO_TERMINAL and "--help" in cmd_open.NO_TERMINAL


def test_the_app_needs_standard_input_a_terminal_too(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(sys, "stdin", Tty())
    assert cmd_open.has_terminal()
    monkeypatch.setattr(sys, "stdin", None)  # `<&-`
    assert not cmd_open.has_terminal()


def test_demo_opens_the_demo_log_and_the_files_named(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.demo_log import demo_log

    opened: list[list[str]] = []

    class FakeApp:
        """Stands in for the app: what `cli.cmd_open` reads after it quits."""

        return_code = 0
        error_count = 0

        class workspace:  # noqa: N801 - read as the app's
            sources: dict[int, object] = {}  # noqa: RUF012 - read only
            load_errors: list[str] = []  # noqa: RUF012 - read only

        def run(self) -> None:
            pass

    def make(files: list[str], args: object) -> FakeApp:
        opened.append(files)
        return FakeApp()

    monkeypatch.setattr(cmd_open, "make_app", make)
    monkeypatch.setattr(cmd_open, "has_terminal", lambda: True)
    monkeypatch.setattr(cmd_open, "prepare_hint", lambda app: None)
    assert run_cli("demo", str(log))[0] == 0
    assert run_cli("demo")[0] == 0
    assert opened == [[str(demo_log()), str(log)], [str(demo_log())]]


# -- usage -------------------------------------------------------------------------------------


def test_demo_help_is_its_own() -> None:
    status, out, _ = run_cli("demo", "--help")
    assert status == 0 and out.startswith("usage: evtx-explorer demo ") and "--no-cache" in out


@pytest.mark.parametrize(("argv", "usage"), [
    (["stats", "LOG", "--jsn"], "usage: evtx-explorer stats "),
    (["query", "--limt", "3", "LOG"], "usage: evtx-explorer query "),
    (["rules", "list", "--bogus"], "usage: evtx-explorer rules list "),
])
def test_a_bad_option_shows_its_commands_usage(argv: list[str], usage: str, log: Path) -> None:
    status, out, err = run_cli(*(str(log) if a == "LOG" else a for a in argv))
    assert status == 2 and out == ""
    assert err.startswith(usage), err
    assert f"evtx-explorer {usage.split()[2]}" in err and "unrecognized arguments: --" in err


# -- a query that starts with `-` --------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["query"], ["stack", "--by", "computer"], ["timeline", "--format", "json"], ["correlate", "--json"],
    ["export", "-o", "-"],
])
def test_a_query_starting_with_a_dash_is_the_options_value(command: list[str], log: Path) -> None:
    status, out, err = run_cli(*command, str(log), "--where", "-host:DC01")
    assert status == 0, err
    assert "DC01" not in out and ("WS01" in out or command[0] == "timeline"), out
    status, out, _ = run_cli(*command, str(log), "--where", "-4688")
    assert status == 0 and "0xc8c" not in out


def test_every_query_option_takes_a_dash_value() -> None:
    """Whichever command has a query option (`dest` where: fleet's too), and only before `--`;
    a value that is itself an option is left to argparse."""
    parser = build_parser()
    args = parse(parser, joined_queries(parser, ["fleet", "ds", "query", "--where", "-host:X"]))
    assert args.where == "-host:X"
    left = ["query", "f", "--where", "--limit", "2"]
    assert joined_queries(parser, left) == left
    assert joined_queries(parser, ["query", "--", "--where", "-x"]) == ["query", "--", "--where", "-x"]
    assert run_cli("query", "f", "--where")[0] == 2


# -- --jobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["0", "-3", "1000", "two"])
def test_jobs_outside_what_the_help_says_is_refused(jobs: str, log: Path) -> None:
    for command in (["stats"], ["open"]):
        status, out, err = run_cli(*command, str(log), "--jobs", jobs)
        assert status == 2 and out == "" and "argument --jobs:" in err, err


def test_jobs_within_the_bounds_is_taken(log: Path) -> None:
    from parsers.evtx import MAX_JOBS_PER_CORE, default_jobs

    assert run_cli("stats", str(log), "--jobs", "1")[0] == 0
    assert run_cli("stats", str(log), "--jobs", str(MAX_JOBS_PER_CORE * default_jobs()))[0] == 0
