"""Records: what survives its own JSON, and what a damaged one becomes (never a crash)."""

from __future__ import annotations

import json

import pytest

from snf_network import config, nic, record
from snf_network.errors import SnfNetworkError
from snf_network.host import Host
from snf_network.plan import Link, NftElement, Rule, Sysctl


def entry() -> record.Record:
    return record.Record(nic.from_env({"INSTANCE": "vm1.example.org", "MAC": "aa:00:00:00:00:01", "MODE": "routed",
                                       "INTERFACE": "tap1", "TAGS": "a:b c \u00e9t\u00e9"}),
                         ["routed"], [Link("tap1", "cc:47:52:4e:45:54"), Sysctl("net/x", "1", "0"),
                                      Rule(4, "tap1", "", "unreachable", 32765),
                                      NftElement("inet", "ip4_ok", '"tap1" . 192.0.2.1')])


def test_the_hand_written_encoding_is_json() -> None:
    text = entry().to_json()
    assert json.loads(text)["items"][3]["element"] == '"tap1" . 192.0.2.1'
    assert record._decode(text) == json.loads(text)


def test_a_record_cut_at_any_byte_is_damaged_not_a_crash(tmp_path) -> None:
    cfg = config.from_text(f"STATE_DIR={tmp_path}\n")
    text = entry().to_json()
    for cut in range(len(text) - 2):  # the last bytes are the closing brace's newline and brace
        (tmp_path / "tap1.json").write_text(text[:cut])
        with pytest.raises(SnfNetworkError, match="is damaged"):
            record.load(Host(), cfg, "tap1")
    (tmp_path / "tap1.json").write_text(text)
    loaded = record.load(Host(), cfg, "tap1")
    assert loaded is not None and loaded.items == entry().items


@pytest.mark.parametrize("text", ["[1, 2]", '{"nic": 3}', "{" * 5000, '{"a": 1} {"b": 2}', "\x00", "nul"])
def test_odd_json_is_damaged(tmp_path, text: str) -> None:
    cfg = config.from_text(f"STATE_DIR={tmp_path}\n")
    (tmp_path / "tap1.json").write_text(text)
    with pytest.raises(SnfNetworkError, match="is damaged"):
        record.load(Host(), cfg, "tap1")
