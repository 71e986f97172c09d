"""Whatever a value holds, a log line stays one line of bounded length."""

from __future__ import annotations

from snf_network import log


def test_control_characters_cannot_forge_a_line(tmp_path, capsys) -> None:
    logfile = tmp_path / "log"
    log.setup("test", str(logfile), use_syslog=False, stderr_level=log.ERROR)
    log.error("bad value 'x\nSat Dec  1 00:00:00 kvm-vif-bridge[1] info up: all fine\r\x1b[2J'")
    written = logfile.read_text().splitlines()
    assert len(written) == 1
    assert "\\n" in written[0] and "\\r" in written[0] and "\\x1b" in written[0]
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_huge_value_is_cut() -> None:
    line = log.clean("x" * 100_000)
    assert len(line) == log.MAX_LINE and line.endswith("...")
    assert log.clean("plain words") == "plain words"
