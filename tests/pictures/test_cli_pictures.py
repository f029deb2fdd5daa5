"""``routines plot`` and ``history --chart`` as a user runs them (in-process, settings under tmp_path)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_sim.firmware import STRICT_ENV
from massager_ctl.cli import context, main
from massager_ctl.config import load_settings
from massager_ctl.journal import Journal
from tests.pictures.picture_support import SvgPicture, add_session, png_pixels, png_size


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


def _forget_settings() -> None:
    # the CLI may keep the settings it read for the process; each test has its own folders
    for value in vars(context).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in list(os.environ):
        if name.startswith("MASSAGER_") and name != STRICT_ENV:
            monkeypatch.delenv(name)
    _forget_settings()

    def run(*args: str) -> Result:
        with pytest.raises(SystemExit) as stop:
            main(list(args))
        captured = capsys.readouterr()
        code = stop.value.code
        return Result(code if isinstance(code, int) else int(code is not None), captured.out, captured.err)

    yield run
    _forget_settings()


def test_plot_writes_the_routines_timeline_as_svg(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "gun.svg"
    result = cli("routines", "plot", "full-session-30-gun", "--model", "pulse-gun-p5", "-o", str(out))
    assert result.code == 0, result.err
    assert result.out.strip() == f"wrote {out}: full-session-30-gun on pulse-gun-p5, 28 steps"
    svg = SvgPicture(out.read_bytes())
    assert svg.numbered("step") == list(range(1, 29))
    assert len(svg.numbered("head-change")) == 2
    assert "Pulse P5 massage gun · 30:00" in svg.text()


def test_plot_writes_png_when_the_name_ends_in_png(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "tour.PNG"
    result = cli(
        "routines", "plot", "zone-cushion-back-tour", "--model", "serial-cushion-z3", "--output", str(out)
    )
    assert result.code == 0, result.err
    width, height = png_size(out.read_bytes())
    assert (width, height) > (700, 700)
    assert png_pixels(out.read_bytes()).std() > 20


def test_plot_refuses_other_suffixes_before_drawing(cli: Cli, tmp_path: Path) -> None:
    for name in ("gun.jpg", "gun"):
        out = tmp_path / name
        result = cli("routines", "plot", "desk-break", "--model", "pulse-gun-p5", "-o", str(out))
        assert result.code == 2
        assert "name the file .svg or .png" in result.err
        assert not out.exists()


def test_plot_refuses_a_routine_that_does_not_fit_the_model(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "heat.svg"
    result = cli("routines", "plot", "lower-back-heat-cushion", "--model", "pulse-gun-p5", "-o", str(out))
    assert result.code == 2
    assert "pulse-gun-p5 has no heater" in result.err
    assert not out.exists()


def test_plot_says_when_the_file_cannot_be_written(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "gun.svg"
    result = cli("routines", "plot", "desk-break", "--model", "pulse-gun-p5", "-o", str(out))
    assert result.code == 2
    assert f"cannot write {out}" in result.err


def test_history_chart_draws_this_weeks_and_earlier_minutes(cli: Cli, tmp_path: Path) -> None:
    now = dt.datetime.now().astimezone()
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    with Journal(load_settings().journal_path) as journal:
        add_session(journal, "this-week", started=monday + (now - monday) / 2, minutes=20)
        add_session(journal, "two-weeks-ago", started=monday - dt.timedelta(days=12), minutes=40)
    out = tmp_path / "weeks.svg"
    result = cli("history", "--chart", str(out))
    assert result.code == 0, result.err
    svg = SvgPicture(out.read_bytes())
    heights = [svg.box(f"week-{n}").height for n in range(1, 13)]
    assert heights[-1] > 0
    assert heights[-3] == pytest.approx(heights[-1] * 2, abs=0.05)
    assert [n for n, h in enumerate(heights, start=1) if h] == [10, 12]
    assert f"{monday.day} {monday:%b}" in svg.text()


def test_history_chart_refuses_other_suffixes(cli: Cli, tmp_path: Path) -> None:
    result = cli("history", "--chart", str(tmp_path / "weeks.pdf"))
    assert result.code == 2
    assert "weeks.pdf: cannot draw a picture as '.pdf'; name the file .svg or .png" in result.err


@pytest.mark.slow
def test_help_does_not_import_matplotlib() -> None:
    probe = (
        "import sys\n"
        "from massager_ctl.cli import main\n"
        "for args in (['--help'], ['routines', 'plot', '--help'], ['history', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'numpy')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--chart" in result.stdout
    assert "--output" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
