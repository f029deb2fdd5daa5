"""What the CLI shows: warnings for broken files of yours, whole ids, clean help, one time format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.orchestrator.plan import resolve
from tests.foundation.cli_support import Cli

BROKEN_ROUTINE = (
    "id: mine\ntitle: Mine\nsummary: s\nareas: [back]\ntools: [hands]\nsteps:\n  - {title: A, duration: x}\n"
)
BROKEN_DEVICE = "id: my-gun\nname: [unclosed\n"


def test_a_broken_user_file_is_a_warning_and_the_rest_still_works(cli: Cli, tmp_path: Path) -> None:
    routines = tmp_path / "config" / "massager-ctl" / "routines"
    devices = tmp_path / "config" / "massager-ctl" / "devices"
    routines.mkdir(parents=True)
    devices.mkdir(parents=True)
    (routines / "mine.yaml").write_text(BROKEN_ROUTINE)
    (devices / "my-gun.yaml").write_text(BROKEN_DEVICE)

    listed = cli("routines", "list", "--json")
    assert listed.code == 0, listed.err
    assert "desk-break" in {r["id"] for r in json.loads(listed.out)}
    warning = f"warning: {routines / 'mine.yaml'}:7: steps.0.duration:"
    assert [line for line in listed.err.splitlines() if line.startswith(warning)], listed.err
    assert listed.err.count("warning:") == 1

    models = cli("devices", "list", "--json")
    assert models.code == 0, models.err
    assert "pulse-gun-p5" in {d["id"] for d in json.loads(models.out)}
    assert re.match(rf"warning: {re.escape(str(devices / 'my-gun.yaml'))}:\d+: yaml: ", models.err), (
        models.err
    )

    checked = cli("routines", "check", "desk-break", "--model", "pulse-gun-p5")
    assert checked.code == 0, checked.err


def test_a_broken_file_given_by_name_is_still_an_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(BROKEN_ROUTINE)
    result = cli("routines", "show", str(path))
    assert result.code == 2
    assert f"{path}:7: steps.0.duration:" in result.err


@pytest.mark.parametrize("command", [("routines", "list"), ("devices", "list")])
def test_ids_are_never_cut_at_80_columns(cli: Cli, command: tuple[str, ...]) -> None:
    ids = {item["id"] for item in json.loads(cli(*command, "--json").out)}
    table = cli(*command)
    assert table.code == 0, table.err
    first_cells = {line.split("│")[1].strip() for line in table.out.splitlines() if line.startswith("│")}
    assert ids <= first_cells, ids - first_cells
    assert "…" not in table.out  # nothing else is cut either: long words fold
    assert max(len(line) for line in table.out.splitlines()) <= 80


def test_routines_list_for_a_model_shows_only_what_passes_preflight(cli: Cli) -> None:
    everything = {r["id"] for r in json.loads(cli("routines", "list", "--json").out)}
    result = cli("routines", "list", "--model", "pulse-gun-p5", "--json")
    assert result.code == 0, result.err
    shown = {r["id"] for r in json.loads(result.out)}
    catalog = Catalog()
    gun = catalog.device("pulse-gun-p5")
    fits = {rid for rid in everything if not resolve(catalog.routine(rid), gun, Caps()).problems}
    assert shown == fits
    assert "full-session-30-cushion" not in shown  # needs the cushion's zones and heat
    assert "full-session-30-gun" in shown
    unknown = cli("routines", "list", "--model", "no-such-model")
    assert unknown.code == 2
    assert "unknown model 'no-such-model'" in unknown.err


COMMANDS = [
    (),
    ("devices",),
    ("devices", "list"),
    ("devices", "scan"),
    ("devices", "try"),
    ("routines",),
    ("routines", "list"),
    ("routines", "show"),
    ("routines", "check"),
    ("routines", "validate"),
    ("routines", "schema"),
    ("run",),
    ("simulate",),
    ("history",),
    ("serve",),
    ("config",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "massager-ctl")
def test_help_has_no_type_labels(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0, result.err
    assert "Usage: massager-ctl" in result.out
    labels = re.findall(r"<[A-Za-z_][\w\[\], ]*>", result.out)
    assert labels == [], labels
    commands = result.out.partition("\nCommands:\n")[2].splitlines()
    assert [line for line in commands if line.endswith("...")] == []  # every summary whole


def test_serve_help_shows_the_topic_defaults_mqtt_uses(cli: Cli) -> None:
    from massager_ctl.mqtt.topics import DEFAULT_DISCOVERY_PREFIX, DEFAULT_PREFIX

    out = " ".join(cli("serve", "--help").out.split())
    assert f"[default: {DEFAULT_PREFIX}]" in out
    assert f"[default: {DEFAULT_DISCOVERY_PREFIX}]" in out


def test_times_are_minutes_and_seconds(cli: Cli) -> None:
    models = cli("devices", "list").out
    assert "20:00" in models  # the serial cushion's 1200 s auto-off
    assert "-min" not in models
    routines = cli("routines", "list").out
    assert re.search(r"│ 30:00 +│", routines)


def test_expected_early_heat_off_is_one_note_in_a_simulation(cli: Cli) -> None:
    result = cli("simulate", "full-session-30-cushion", "--model", "serial-cushion-z3")
    assert result.code == 0, result.err
    notes = [line for line in result.out.splitlines() if "a moment early" in line]
    assert len(notes) == 1, result.out
    assert re.fullmatch(
        r"note: heat off a moment early to stay within its budget \(at \d+:\d\d(, \d+:\d\d)*\)", notes[0]
    )
    assert not re.search(r"\d+\.\d s:", result.out)  # no raw seconds


def test_show_completion_prints_a_script_for_the_installed_command(cli: Cli) -> None:
    result = cli("--show-completion", "bash")
    assert result.code == 0, result.err
    assert "_MASSAGER_CTL_COMPLETE=complete_bash" in result.out
    assert result.out.rstrip().endswith("massager-ctl")


def test_a_malformed_ble_address_is_bad_input(cli: Cli) -> None:
    for args in (
        ("run", "desk-break", "--device", "ble://zz?model=pulse-gun-p5", "--yes"),
        ("devices", "try", "ble://AA:BB:CC?model=pulse-gun-p5"),
        ("routines", "check", "desk-break", "--device", "ble://not-an-address?model=pulse-gun-p5"),
    ):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert "is not a Bluetooth address" in result.err
        assert result.err.count("\n") == 1  # one line, once
    ok = cli("routines", "check", "desk-break", "--device", "ble://AA:BB:CC:DD:EE:FF?model=pulse-gun-p5")
    assert ok.code == 0, ok.err


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("massager-ctl rou", ["routines"]),
        ("massager-ctl routines show desk", ["desk-break"]),
        ("massager-ctl simulate desk-break --model pulse", ["pulse-gun-p5"]),
        ("massager-ctl routines list --model s", ["serial-cushion-z3", "shiatsu-cushion-s3"]),
    ],
)
def test_completion_offers_commands_routine_ids_and_models(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, words: str, expected: list[str]
) -> None:
    # what the bash script from --show-completion sets before calling massager-ctl
    monkeypatch.setenv("_MASSAGER_CTL_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - 1))
    result = cli()
    assert result.code == 0, result.err
    assert result.out.split() == expected


@pytest.mark.parametrize(
    "command",
    [
        ("routines", "show", "full-session-30-cushion"),
        ("routines", "check", "full-session-30-gun", "--model", "pulse-gun-p5"),
        ("simulate", "full-session-30-gun", "--model", "pulse-gun-p5"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_step_tables_cut_nothing_at_80_columns(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 0, result.err
    assert "…" not in result.out
    assert max(len(line) for line in result.out.splitlines()) <= 80
