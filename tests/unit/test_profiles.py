from __future__ import annotations

import pytest

from snf_network import profiles
from snf_network.errors import ConfigError

KNOWN = ("protected", "limited", "unprotected", "web")


@pytest.mark.parametrize(
    ("tags", "chosen"),
    [
        ((), ""),
        (("synnefo:network:0:protected",), "protected"),
        (("synnefo:network:eth0:limited",), "limited"),
        (("synnefo:network:4e3c-uuid:unprotected",), "unprotected"),
        (("synnefo:network:1:protected",), ""),  # another NIC's
        (("limited",), "limited"),  # bare: every NIC (as the original)
        (("limited", "synnefo:network:0:unprotected"), "unprotected"),  # NIC-specific beats bare
        (("synnefo:network:0:unprotected", "synnefo:network:eth0:protected"), "protected"),  # stricter wins
        (("synnefo:network:0:web", "synnefo:network:0:limited"), "web"),
        (("synnefo:network:protected",), ""),  # no ident: the original matched nothing either
    ],
)
def test_choice(tags: tuple[str, ...], chosen: str) -> None:
    assert profiles.choose(tags, ("0", "eth0", "4e3c-uuid"), KNOWN)[0] == chosen


def test_unknown_profiles_are_reported() -> None:
    assert profiles.choose(("synnefo:network:0:nonesuch",), ("0",), KNOWN) == ("", ["synnefo:network:0:nonesuch"])


def test_operator_file_adds_and_replaces(tmp_path) -> None:
    path = tmp_path / "profiles"
    path.write_text("# mine\n[web]\ntcp dport { 80, 443 } accept\n\n[protected]\ntcp dport 22 accept\n")
    loaded = profiles.load(str(path))
    assert loaded["web"] == ("tcp dport { 80, 443 } accept",)
    assert loaded["protected"] == ("tcp dport 22 accept",)
    assert loaded["limited"] == profiles.BUILTIN["limited"]
    assert profiles.load(str(tmp_path / "missing")) == profiles.BUILTIN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp dport 22 accept\n", r"before any \[profile\]"),
        ("[Web Server]\naccept\n", "not lower-case"),
        ("[web]\naccept; flush ruleset\n", "one nftables rule per line"),
        ("[web]\nflush ruleset\n", "one nftables rule per line"),
    ],
)
def test_bad_files_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        profiles.parse(text, "/etc/snf-network/firewall-profiles")


def test_marks_are_stable_and_distinct() -> None:
    assert profiles.mark("protected") == profiles.mark("protected")
    assert len({profiles.mark(name) for name in KNOWN}) == len(KNOWN)
    assert all(profiles.mark(name) >> 16 == 0x736E for name in KNOWN)
