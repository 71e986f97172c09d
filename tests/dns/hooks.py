"""Helpers for the DNS tests: Ganeti-shaped hook environments, the installed hook, a blackhole."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HOOK = Path(sys.executable).parent / "snf-network-dnshook"
PRIMARY = "node1.example.org"
PATH = "/sbin:/bin:/usr/sbin:/usr/bin"


def nic_env(index, mac, ip="", subnet="", subnet6="", tags="dns", mode="routed", link="100"):
    prefix = f"GANETI_INSTANCE_NIC{index}_"
    values = {"MAC": mac, "MODE": mode, "LINK": link, "IP": ip, "NETWORK_SUBNET": subnet,
              "NETWORK_SUBNET6": subnet6, "NETWORK_TAGS": tags}
    return {prefix + key: value for key, value in values.items()}


def hook_env(opcode, instance, *nics, primary=PRIMARY, phase="post", **extra):
    env = {
        "GANETI_HOOKS_VERSION": "2",
        "GANETI_HOOKS_PHASE": phase,
        "GANETI_HOOKS_PATH": {"OP_INSTANCE_CREATE": "instance-add", "OP_INSTANCE_SET_PARAMS": "instance-modify",
                              "OP_INSTANCE_RENAME": "instance-rename",
                              "OP_INSTANCE_REMOVE": "instance-remove"}.get(opcode, "instance-start"),
        "GANETI_OP_CODE": opcode,
        "GANETI_OBJECT_TYPE": "INSTANCE",
        "GANETI_CLUSTER": "cluster.example.org",
        "GANETI_MASTER": PRIMARY,
        "GANETI_DATA_DIR": "/var/lib/ganeti",
        "GANETI_OP_TARGET": instance,
        "GANETI_INSTANCE_NAME": instance,
        "GANETI_INSTANCE_PRIMARY": primary,
        "GANETI_INSTANCE_SECONDARIES": "",
        "GANETI_INSTANCE_STATUS": "up",
        "GANETI_INSTANCE_TAGS": "",
        "GANETI_INSTANCE_NIC_COUNT": str(len(nics)),
    }
    for nic in nics:
        env.update(nic)
    env.update(extra)
    return env


@dataclass
class Hook:
    """Runs the installed snf-network-dnshook the way Ganeti does: cleared environment, cwd /."""

    directory: Path
    settings: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def config(self) -> Path:
        return self.directory / "snf-network.conf"

    @property
    def logfile(self) -> Path:
        return self.directory / "snf-network.log"

    def log(self) -> str:
        return self.logfile.read_text() if self.logfile.exists() else ""

    def write_config(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}='{value}'" for key, value in {
            "STATE_DIR": str(self.directory / "state"),
            "LOGFILE": str(self.logfile),
            "SYSLOG": "no",
            "NODE_NAME": PRIMARY,
            "KERBEROS_TICKET": str(self.directory / "krb5.tkt"),
            **self.settings,
        }.items()]
        self.config.write_text("\n".join(lines) + "\n")
        return self.config

    def run(self, env, path=PATH):
        self.write_config()
        full = {"PATH": path, "SNF_NETWORK_CONFIG": str(self.config), **env}
        start = time.monotonic()
        done = subprocess.run([str(HOOK)], env=full, cwd="/", stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)
        self.seconds = time.monotonic() - start
        return done


class Listener:
    """A TCP server on 127.0.0.1 that counts connections and never answers (a blackhole)."""

    def __init__(self, accept=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held = []
        self.accept = accept
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.accept:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)  # keep it open, read nothing, answer nothing

    def close(self):
        self.accept = False
        for conn in self.held:
            conn.close()
        self.sock.close()
