"""Reading TSIG key files: BIND's key statement (tsig-keygen) and dnssec-keygen's .private files."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from snf_network.dns.auth import parse_key_statement, read_keyfile
from snf_network.errors import ConfigError

SECRET = "6Wq0mZ1zJ5m0F0S0eHc9c7y5fQq1m3b7a1F3yq0Sx8k="


def test_tsig_keygen_format(tmp_path):
    path = tmp_path / "key.conf"
    path.write_text(f'key "ddns-key.node1" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n')
    key = read_keyfile(str(path))
    assert (key.name, key.algorithm, key.secret) == ("ddns-key.node1", "hmac-sha256", SECRET)
    assert SECRET not in repr(key)


@pytest.mark.skipif(shutil.which("tsig-keygen") is None, reason="tsig-keygen (bind9-utils) not installed")
@pytest.mark.parametrize("algorithm", ["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
                                       "hmac-sha512"])
def test_real_tsig_keygen_output(tmp_path, algorithm):
    text = subprocess.run(["tsig-keygen", "-a", algorithm, "k1"], capture_output=True, text=True,
                          check=True).stdout
    key = parse_key_statement(text)
    assert key.name == "k1"
    assert key.algorithm == (algorithm + ".sig-alg.reg.int" if algorithm == "hmac-md5" else algorithm)
    assert key.secret in text


def test_comments_spacing_and_unquoted_name():
    text = f"""# written by hand
    // another comment
    /* and a
       block */
    key ddns {{ algorithm HMAC-SHA512 ; secret
      "{SECRET}" ; }} ;
    key "second" {{ algorithm hmac-sha1; secret "{SECRET}"; }};
    """
    key = parse_key_statement(text)
    assert (key.name, key.algorithm) == ("ddns", "hmac-sha512")  # the first key


@pytest.mark.parametrize(("text", "message"), [
    ("", "no key statement"),
    ("options { };", "no key statement"),
    (f'key "k" {{ secret "{SECRET}"; }};', "unknown or missing algorithm"),
    (f'key "k" {{ algorithm hmac-sha999; secret "{SECRET}"; }};', "unknown or missing algorithm"),
    ('key "k" { algorithm hmac-sha256; };', "secret is missing"),
    ('key "k" { algorithm hmac-sha256; secret "not base64!"; };', "not base64"),
    ('key "k" { algorithm hmac-sha256; secret "" ; };', "secret is missing"),
    (f'key "k" {{ algorithm hmac-sha256; secret "{SECRET}";', "not closed"),
    (f'key "k" {{ algorithm hmac-sha256 secret "{SECRET}"; }};', "expected 'algorithm NAME;'"),
    ('key "bad name" { };', "expected key"),
    ('key "k" { algorithm hmac-sha256; secret "unterminated; };', "cannot parse"),
])
def test_bad_key_files(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_key_statement(text, "/etc/snf-network/ddns.key")


def test_dnssec_keygen_private_file(tmp_path):
    path = tmp_path / "Kddns.example.org.+165+01234.private"
    path.write_text(f"Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\nKey: {SECRET}\nBits: AAA=\n")
    key = read_keyfile(str(path))
    assert (key.name, key.algorithm, key.secret) == ("ddns.example.org", "hmac-sha512", SECRET)


def test_private_file_with_a_non_hmac_algorithm(tmp_path):
    path = tmp_path / "Kzone.+013+01234.private"
    path.write_text("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n")
    with pytest.raises(ConfigError, match="not an HMAC"):
        read_keyfile(str(path))


def test_missing_or_unset_key_file(tmp_path):
    with pytest.raises(ConfigError, match="KEYFILE is not set"):
        read_keyfile("")
    with pytest.raises(ConfigError, match="cannot read"):
        read_keyfile(str(tmp_path / "absent"))
