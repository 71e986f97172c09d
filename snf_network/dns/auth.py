"""Credentials for DNS updates: a TSIG key file, or a Kerberos ticket.

The key file is BIND's own format, as ``tsig-keygen`` (or ``ddns-confgen``)
writes it and as named.conf includes it::

    key "ddns" {
            algorithm hmac-sha256;
            secret "base64...";
    };

The ``K<name>.+<alg>+<id>.private`` files of older ``dnssec-keygen`` (what
the original gave ``nsupdate -k``) are read too, so an upgrade keeps working.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from snf_network.errors import ConfigError, SnfNetworkError

# Algorithm names in key files (BIND's spellings) -> TSIG algorithm names (RFC 8945).
ALGORITHMS = {
    "hmac-md5": "hmac-md5.sig-alg.reg.int",
    "hmac-md5.sig-alg.reg.int": "hmac-md5.sig-alg.reg.int",
    "hmac-sha1": "hmac-sha1",
    "hmac-sha224": "hmac-sha224",
    "hmac-sha256": "hmac-sha256",
    "hmac-sha384": "hmac-sha384",
    "hmac-sha512": "hmac-sha512",
}
# dnssec-keygen's numbers for the HMAC algorithms (private key format v1.x).
_PRIVATE_ALGORITHMS = {157: "hmac-md5", 161: "hmac-sha1", 162: "hmac-sha224", 163: "hmac-sha256",
                       164: "hmac-sha384", 165: "hmac-sha512"}

_TOKEN = re.compile(r'\s+|#[^\n]*|//[^\n]*|/\*.*?\*/|"([^"\n]*)"|([{};])|([^\s{};"#/]+)', re.S)
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")


@dataclass(frozen=True, slots=True)
class TsigKey:
    name: str
    algorithm: str  # TSIG algorithm name, e.g. hmac-sha256
    secret: str  # base64, as in the file

    def __repr__(self) -> str:  # never print the secret
        return f"TsigKey(name={self.name!r}, algorithm={self.algorithm!r})"


def read_keyfile(path: str) -> TsigKey:
    """The first key in ``path``; a one-line ConfigError when it is unusable."""
    if not path:
        raise ConfigError("KEYFILE is not set (needed by AUTHENTICATION_METHOD=bind9)")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(65536)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"KEYFILE {path}: cannot read: {exc}") from None
    if text.startswith("Private-key-format:"):
        return _from_private(text, Path(path).name, path)
    return parse_key_statement(text, path)


def parse_key_statement(text: str, origin: str = "<key file>") -> TsigKey:
    tokens = _tokens(text, origin)
    try:
        start = tokens.index("key")
    except ValueError:
        raise ConfigError(f"{origin}: no key statement") from None
    name = tokens[start + 1] if start + 1 < len(tokens) else ""
    if not _KEY_NAME.fullmatch(name) or tokens[start + 2:start + 3] != ["{"]:
        raise ConfigError(f"{origin}: expected key \"NAME\" {{ ... }}")
    settings: dict[str, str] = {}
    i = start + 3
    while i < len(tokens) and tokens[i] != "}":
        if i + 2 >= len(tokens) or tokens[i + 2] != ";":
            raise ConfigError(f"{origin}: expected 'algorithm NAME;' and 'secret \"...\";' in key {name}")
        settings[tokens[i].lower()] = tokens[i + 1]
        i += 3
    if i >= len(tokens):
        raise ConfigError(f"{origin}: key {name} is not closed with }};")
    return _key(name, settings.get("algorithm", ""), settings.get("secret", ""), origin)


def _tokens(text: str, origin: str) -> list[str]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConfigError(f"{origin}: cannot parse near {text[position:position + 20]!r}")
        quoted, punctuation, word = match.groups()
        if quoted is not None:
            tokens.append(quoted)
        elif punctuation or word:
            tokens.append(punctuation or word)
        position = match.end()
    return tokens


def _from_private(text: str, filename: str, origin: str) -> TsigKey:
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    match = re.fullmatch(r"K(.+)\.\+(\d{3})\+\d+\.private", filename)
    if match is None:
        raise ConfigError(f"{origin}: a dnssec-keygen key file must be named K<name>.+<alg>+<id>.private")
    number = int(match.group(2))
    algorithm = _PRIVATE_ALGORITHMS.get(number, "")
    if not algorithm:
        raise ConfigError(f"{origin}: algorithm {number} is not an HMAC (TSIG) algorithm")
    return _key(match.group(1).rstrip("."), algorithm, fields.get("Key", "").strip(), origin)


def _key(name: str, algorithm: str, secret: str, origin: str) -> TsigKey:
    tsig_algorithm = ALGORITHMS.get(algorithm.lower())
    if tsig_algorithm is None:
        raise ConfigError(f"{origin}: key {name}: unknown or missing algorithm {algorithm!r}")
    try:
        if not base64.b64decode(secret, validate=True):
            raise ValueError
    except (binascii.Error, ValueError):
        raise ConfigError(f"{origin}: key {name}: the secret is missing or not base64") from None
    return TsigKey(name=name, algorithm=tsig_algorithm, secret=secret)


def kerberos_env(principal: str, keytab: str, ticket: str, env: Mapping[str, str],
                 timeout: Callable[[], float]) -> dict[str, str]:
    """The environment for ``nsupdate -g``, with a valid ticket in ``ticket``.

    The ticket cache is renewed from the keytab only when ``klist -s`` says
    it is missing or expired (the original ran k5start before every record).
    ``k5start`` is used when installed (as the original did), else MIT's
    ``kinit``. Each program gets at most ``timeout()`` seconds (asked anew, so
    the caller's deadline holds for the pair).
    """
    if not principal:
        raise ConfigError("KERBEROS_PRINCIPAL is not set (needed by AUTHENTICATION_METHOD=kerberos)")
    path = env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    cache = f"FILE:{ticket}"
    child = {"PATH": path, "KRB5CCNAME": cache}
    klist = shutil.which("klist", path=path)
    if klist and _run([klist, "-s", "-c", cache], child, timeout())[0] == 0:
        return child
    k5start = shutil.which("k5start", path=path)
    kinit = shutil.which("kinit", path=path)
    if k5start:
        argv = [k5start, "-q", "-H", "1", "-l", "1h", "-k", ticket, "-f", keytab, "-u", principal]
    elif kinit:
        argv = [kinit, "-k", "-t", keytab, "-c", cache, principal]
    else:
        raise SnfNetworkError("kerberos: neither k5start nor kinit is installed (krb5-user or kstart)")
    status, reason = _run(argv, child, timeout())
    if status != 0:
        raise SnfNetworkError(f"kerberos: {Path(argv[0]).name} for {principal} with keytab {keytab} "
                              f"failed: {reason}")
    return child


def _run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Exit status and the first line the program complained with."""
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace", timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return -1, f"no answer within {timeout:g} s"
    except OSError as exc:
        return -1, str(exc)
    lines = done.stderr.strip().splitlines()
    return done.returncode, lines[0] if lines else f"exit status {done.returncode}"
