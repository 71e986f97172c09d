"""The Debian package: built from this tree by dpkg-buildpackage, it puts the
programs where Ganeti looks for them, ships the default configuration as a
conffile, and its programs run from the package's own files.

The package is built once per module, in a copy of the tree (what git tracks
plus untracked files it does not ignore), so the build leaves nothing in the
repository. It takes a few seconds; everything runs as root with Debian's own
/usr/bin/python3 and a plain PATH (no pyenv, no virtual environment).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.deb

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON = "/usr/bin/python3"
BUILD_TIMEOUT = 300

PROGRAMS = ("kvm-vif-bridge", "kvm-ifdown-custom", "vif-custom", "snf-network-hook", "snf-network-dnshook",
            "snf-network", "snf-dhcpd", "snf-nld")

# Where Ganeti and Xen look -> the program in /usr/bin it must reach.
GANETI_LINKS = {
    "/etc/xen/scripts/vif-custom": "vif-custom",
    **{f"/etc/ganeti/hooks/instance-{op}-post.d/snf-network-hook": "snf-network-hook"
       for op in ("modify", "start", "stop", "migrate", "failover", "remove")},
    "/etc/ganeti/kvm-vif-bridge": "kvm-vif-bridge",
    "/etc/ganeti/kvm-ifup-custom": "kvm-vif-bridge",
    "/etc/ganeti/kvm-ifdown-custom": "kvm-ifdown-custom",
    **{f"/etc/ganeti/network/{mode}/{action}": "kvm-vif-bridge"
       for mode in ("routed", "bridged") for action in ("up", "down")},
    **{f"/etc/ganeti/hooks/instance-{op}-post.d/snf-network-dnshook": "snf-network-dnshook"
       for op in ("add", "modify", "rename", "remove")},
}
DIRECTORIES = (
    "/var/lib/snf-network",
    *(f"/etc/ganeti/hooks/instance-{op}-post.d"
      for op in ("add", "modify", "rename", "remove", "start", "stop", "migrate", "failover")),
    "/etc/xen/scripts",
)
CONFFILES = ("/etc/default/snf-network", "/etc/logrotate.d/00-snf-network")
HOOK_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")  # what Ganeti's hooks runner accepts

NIC = {
    "INSTANCE": "vm1.example.org", "MAC": "aa:00:00:12:34:56", "MODE": "routed", "INTERFACE": "tap3",
    "IP": "192.0.2.10", "LINK": "main", "NETWORK_TAGS": "nfdhcpd",
    "NETWORK_SUBNET": "192.0.2.0/24", "NETWORK_GATEWAY": "192.0.2.1",
}


@dataclass
class Entry:
    kind: str  # first character of the mode: "-", "d" or "l"
    mode: str
    target: str  # symlink target, else ""


@dataclass
class Package:
    deb: Path
    source: Path  # the copied tree it was built from
    root: Path  # the package extracted with dpkg-deb -x
    entries: dict[str, Entry]


def _run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True, check=False)


def _build_env(home: Path) -> dict[str, str]:
    # Nothing from the caller's environment: a virtual environment's or pyenv's
    # python3 on PATH, or a PYTHONPATH, would build against the wrong Python.
    return {"PATH": SYSTEM_PATH, "HOME": str(home), "LC_ALL": "C.UTF-8"}


def _copy_tree(destination: Path) -> None:
    listed = _run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if listed.returncode != 0:
        pytest.skip(f"deb test skipped: cannot list the tree with git: {listed.stderr.strip()}")
    for name in listed.stdout.split("\0"):
        if not name or name == ".venv" or name.startswith(".venv/"):
            continue
        source = ROOT / name
        if not os.path.lexists(source):
            continue  # tracked, but deleted in the working tree
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def _contents(deb: Path) -> dict[str, Entry]:
    listing = _run(["dpkg-deb", "-c", str(deb)])
    assert listing.returncode == 0, listing.stderr
    entries = {}
    for line in listing.stdout.splitlines():
        mode, _owner, _size, _date, _time, name = line.split(None, 5)
        name, _, target = name.partition(" -> ")
        path = name.removeprefix(".").rstrip("/") or "/"
        entries[path] = Entry(mode[0], mode, target)
    return entries


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    if os.geteuid() != 0:
        pytest.skip("deb test skipped: needs root (run it as tools/test.sh does)")
    for tool in ("git", "dpkg-buildpackage", "dpkg-checkbuilddeps", "dpkg-deb"):
        if shutil.which(tool, path=SYSTEM_PATH) is None:
            pytest.skip(f"deb test skipped: {tool} is missing (tools/setup.sh installs dpkg-dev)")
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"deb test skipped: {PYTHON} is missing")
    base = tmp_path_factory.mktemp("deb")
    source = base / "src"  # dpkg-buildpackage writes the .deb into the parent
    source.mkdir()
    _copy_tree(source)
    env = _build_env(base)
    deps = _run(["dpkg-checkbuilddeps"], cwd=source, env=env)
    if deps.returncode != 0:
        pytest.skip(f"deb test skipped: {deps.stderr.strip() or deps.stdout.strip()} (run tools/setup.sh)")
    build = _run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=source, env=env, timeout=BUILD_TIMEOUT)
    output = build.stdout + build.stderr
    assert build.returncode == 0, f"dpkg-buildpackage failed:\n{output[-4000:]}"
    debs = sorted(base.glob("snf-network_*_all.deb"))
    assert len(debs) == 1, f"expected one snf-network .deb in {base}, found {debs}\n{output[-2000:]}"
    root = base / "root"
    extract = _run(["dpkg-deb", "-x", str(debs[0]), str(root)])
    assert extract.returncode == 0, extract.stderr
    yield Package(debs[0], source, root, _contents(debs[0]))


def _inside(package: Package, path: str) -> Path:
    """``path`` as installed, inside the extracted package."""
    return package.root / path.lstrip("/")


def test_programs_are_in_usr_bin(package: Package) -> None:
    for program in PROGRAMS:
        entry = package.entries.get(f"/usr/bin/{program}")
        assert entry is not None, f"/usr/bin/{program} is not in the package"
        assert entry.kind == "-" and entry.mode[3] == "x", f"/usr/bin/{program}: {entry.mode}"
    assert "/usr/lib/python3/dist-packages/snf_network/__init__.py" in package.entries
    for program in ("kvm-vif-bridge", "kvm-ifdown-custom", "vif-custom", "snf-network-hook"):
        launcher = _inside(package, f"/usr/bin/{program}").read_text()
        assert launcher.startswith("#!/usr/bin/python3\n") and "\nimport re\n" not in launcher, launcher


def test_links_where_ganeti_looks(package: Package) -> None:
    for path, program in GANETI_LINKS.items():
        entry = package.entries.get(path)
        assert entry is not None, f"{path} is not in the package"
        # A symlink, not a conffile: see docs/install.md.
        assert entry.kind == "l", f"{path} should be a symlink, is {entry.mode}"
        assert entry.target == f"/usr/bin/{program}", f"{path} -> {entry.target}, expected /usr/bin/{program}"
        if "/hooks/" in path:
            assert HOOK_NAME.match(os.path.basename(path)), f"Ganeti would skip the hook {path}"


def test_directories(package: Package) -> None:
    for path in DIRECTORIES:
        entry = package.entries.get(path)
        assert entry is not None and entry.kind == "d", f"directory {path} is not in the package"


def test_conffiles(package: Package) -> None:
    shown = _run(["dpkg-deb", "-I", str(package.deb), "conffiles"])
    assert shown.returncode == 0, shown.stderr
    conffiles = shown.stdout.split()
    for path in CONFFILES:
        assert path in conffiles, f"{path} is not a conffile: {conffiles}"
        assert package.entries[path].kind == "-"
    assert not [path for path in conffiles if path.startswith("/etc/ganeti/")], conffiles
    # The shipped defaults are debian/snf-network.default, unchanged.
    shipped = _inside(package, "/etc/default/snf-network").read_bytes()
    assert shipped == (package.source / "debian" / "snf-network.default").read_bytes()


def test_control_fields(package: Package) -> None:
    fields = _run(["dpkg-deb", "-f", str(package.deb), "Package", "Version", "Architecture", "Depends"])
    assert fields.returncode == 0, fields.stderr
    control = dict(line.split(": ", 1) for line in fields.stdout.splitlines())
    assert control["Package"] == "snf-network"
    assert control["Architecture"] == "all"
    depends = control["Depends"]
    for needed in ("python3-click (>= 8.1.3)", "python3-dnspython (>= 2.3.0)", "iproute2", "nftables"):
        assert needed in depends, f"Depends lacks {needed}: {depends}"
    # debian/changelog and snf_network.__version__ name the same release (the
    # epoch is Debian's alone: see test_version_above_grnets).
    upstream = control["Version"].split(":", 1)[-1]
    init = _inside(package, "/usr/lib/python3/dist-packages/snf_network/__init__.py").read_text()
    assert f'__version__ = "{upstream}"' in init, f"Version {control['Version']} vs {init}"


def _resolve(package: Package, path: str) -> Path:
    """Follow a symlink of the package inside the extracted tree."""
    link = _inside(package, path)
    target = os.readlink(link)
    return _inside(package, target) if target.startswith("/") else link.parent / target


def _program_env(package: Package, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "snf-network.conf"
    config.write_text(
        f"STATE_DIR={tmp_path}/state\n"
        f"LOCK_FILE={tmp_path}/snf-network.lock\n"
        f"LOGFILE={tmp_path}/snf-network.log\n"
        f"NFDHCPD_STATE_DIR={tmp_path}/nfdhcpd\n"
        "SYSLOG=no\n",
        encoding="utf-8",
    )
    return {
        "PATH": SYSTEM_PATH,
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(_inside(package, "/usr/lib/python3/dist-packages")),
        "PYTHONDONTWRITEBYTECODE": "1",
        "SNF_NETWORK_CONFIG": str(config),
    }


def test_plan_runs_from_the_package(package: Package, tmp_path: Path) -> None:
    env = _program_env(package, tmp_path)
    # cwd: python -c puts the working directory first on sys.path, and ours may hold the source tree.
    where = _run([PYTHON, "-c", "import snf_network; print(snf_network.__file__)"], cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(package.root)), f"imported from {where.stdout}{where.stderr}"
    plan = _run([PYTHON, str(_inside(package, "/usr/bin/snf-network")), "plan"], cwd=tmp_path, env={**env, **NIC},
                timeout=60)
    assert plan.returncode == 0, f"snf-network plan exited {plan.returncode}:\n{plan.stdout}{plan.stderr}"
    binding = tmp_path / "nfdhcpd" / "tap3"
    assert f"file {binding}" in plan.stdout, plan.stdout
    assert "IP=192.0.2.10" in plan.stdout, plan.stdout
    assert not binding.exists(), "plan must change nothing"


def test_ganeti_paths_reach_the_programs(package: Package, tmp_path: Path) -> None:
    for path, program in GANETI_LINKS.items():
        resolved = _resolve(package, path)
        assert resolved == _inside(package, f"/usr/bin/{program}"), f"{path} resolves to {resolved}"
        assert os.access(resolved, os.X_OK), f"{path}: {resolved} is not executable"
    # Run kvm-vif-bridge the way Ganeti 2.x does (through /etc/ganeti/kvm-vif-bridge,
    # environment only), with an ACTION it must refuse before touching the host.
    env = {**_program_env(package, tmp_path), **NIC, "ACTION": "sideways"}
    bridge = _resolve(package, "/etc/ganeti/kvm-vif-bridge")
    run = _run([PYTHON, str(bridge)], cwd=tmp_path, env=env, timeout=60)
    assert run.returncode != 0 and "ACTION" in run.stderr, f"exit {run.returncode}: {run.stdout}{run.stderr}"
    assert "kvm-vif-bridge" in run.stderr, run.stderr


# Debian's ganeti package's /etc/logrotate.d/ganeti (3.0.2-3), paths moved under tmp.
GANETI_LOGROTATE = """\
{logdir}/*.log {{
        weekly
        missingok
        rotate 52
        notifempty
        compress
        delaycompress
        create 640
        sharedscripts
        su root root
        postrotate
                true
        endscript
}}
"""


def test_logrotate_next_to_ganeti(package: Package, tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate", path=SYSTEM_PATH)
    if logrotate is None:
        pytest.skip("logrotate check skipped: logrotate is not installed")
    logdir = tmp_path / "log"
    confdir = tmp_path / "logrotate.d"
    logdir.mkdir()
    confdir.mkdir()
    (logdir / "snf-network.log").write_text("a line\n")
    (logdir / "node-daemon.log").write_text("a line\n")
    ours = _inside(package, "/etc/logrotate.d/00-snf-network").read_text()
    assert "/var/log/ganeti/snf-network.log {" in ours
    (confdir / "00-snf-network").write_text(ours.replace("/var/log/ganeti", str(logdir)))
    (confdir / "ganeti").write_text(GANETI_LOGROTATE.format(logdir=logdir))
    main = tmp_path / "logrotate.conf"
    main.write_text(f"include {confdir}\n")
    run = _run([logrotate, "-d", "-s", str(tmp_path / "state"), str(main)], env={"PATH": SYSTEM_PATH})
    assert run.returncode == 0 and "error" not in run.stderr, run.stderr


# -- upgrade from GRNET's snf-network, man pages, units, lintian ------------

MAN_PAGES = ("snf-network", "kvm-vif-bridge", "kvm-ifdown-custom", "vif-custom", "snf-network-hook",
             "snf-network-dnshook", "snf-dhcpd", "snf-nld")
# GRNET's snf-network 0.16.x shipped these as conffiles; we ship links there
# (or nothing: ifup-extra), so dpkg-maintscript-helper must take them over.
OLD_CONFFILES = ("/etc/ganeti/kvm-ifup-custom", "/etc/ganeti/kvm-ifdown-custom", "/etc/ganeti/ifup-extra",
                 "/etc/xen/scripts/vif-custom")
# Lintian tags we accept, with the reason (none at warning or error level today).
LINTIAN_JUSTIFIED: dict[str, str] = {}


def _control_file(package: Package, name: str) -> str:
    shown = _run(["dpkg-deb", "-I", str(package.deb), name])
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def _version(package: Package) -> str:
    fields = _run(["dpkg-deb", "-f", str(package.deb), "Version"])
    assert fields.returncode == 0, fields.stderr
    return fields.stdout.strip()


def test_version_above_grnets(package: Package) -> None:
    version = _version(package)
    for old in ("0.16", "0.16.1", "0.16.99+deb10u9"):
        compared = _run(["dpkg", "--compare-versions", version, "gt", old])
        assert compared.returncode == 0, f"{version} does not sort above GRNET's {old}: apt would downgrade"


def test_old_conffiles_taken_over(package: Package) -> None:
    version = _version(package)
    for script in ("preinst", "postinst", "postrm"):
        text = _control_file(package, script)
        for path in OLD_CONFFILES:
            line = f"dpkg-maintscript-helper rm_conffile {path} {version}\\~"
            assert line in text, f"{script} lacks {line!r}"
    # Never a conffile of ours at those paths: dpkg would ask, or silently replace.
    conffiles = _control_file(package, "conffiles").split()
    assert not set(OLD_CONFFILES) & set(conffiles)


def _preinst_links(package: Package) -> list[str]:
    text = (package.source / "debian" / "snf-network.preinst").read_text()
    block = text.split('LINKS="', 1)[1].split('"', 1)[0]
    return block.split()


def test_preinst_knows_every_link(package: Package) -> None:
    links = sorted(path for path, entry in package.entries.items() if entry.kind == "l" and path.startswith("/etc/"))
    assert sorted(_preinst_links(package)) == links


def test_preinst_moves_an_unowned_file_aside(package: Package, tmp_path: Path) -> None:
    root = tmp_path / "root"
    own = root / "etc/ganeti/network/routed/up"  # an operator's script: no package owns it
    owned = root / "etc/ganeti/kvm-ifup-custom"  # GRNET's conffile: left to dpkg-maintscript-helper
    link = root / "etc/ganeti/kvm-vif-bridge"
    for path in (own, owned):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
    link.symlink_to("/etc/ganeti/kvm-ifup-custom")
    fake = tmp_path / "bin"
    fake.mkdir()
    # dpkg-query -S: only the old package's conffile is owned; the helper is a no-op here.
    (fake / "dpkg-query").write_text('#!/bin/sh\n[ "$2" = /etc/ganeti/kvm-ifup-custom ]\n')
    (fake / "dpkg-maintscript-helper").write_text("#!/bin/sh\nexit 0\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    preinst = tmp_path / "preinst"
    preinst.write_text(_control_file(package, "preinst"))
    run = _run(["sh", str(preinst), "upgrade", "0.16.1"],
               env={"PATH": f"{fake}:{SYSTEM_PATH}", "DPKG_ROOT": str(root), "DPKG_MAINTSCRIPT_NAME": "preinst",
                    "DPKG_MAINTSCRIPT_PACKAGE": "snf-network"})
    assert run.returncode == 0, run.stderr
    assert not own.exists() and own.with_name("up.snf-network-old").read_text() == "#!/bin/sh\n"
    assert "/etc/ganeti/network/routed/up" in run.stderr
    assert owned.exists() and link.is_symlink()


def test_man_pages(package: Package) -> None:
    for name in MAN_PAGES:
        path = f"/usr/share/man/man8/{name}.8.gz"
        assert path in package.entries, f"{path} is not in the package"
    man = shutil.which("man", path=SYSTEM_PATH)
    if man is None:
        print("man page rendering not checked: man is not installed")
        return
    for name in MAN_PAGES:
        page = _inside(package, f"/usr/share/man/man8/{name}.8.gz")
        shown = _run([man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(page)],
                     env={"PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"})
        assert shown.returncode == 0 and shown.stderr == "", f"{name}.8: {shown.stderr}"


def test_reapply_unit(package: Package) -> None:
    path = "/lib/systemd/system/snf-network-reapply.service"
    assert package.entries.get(path) is not None and package.entries[path].kind == "-", f"{path} is not installed"
    unit = _inside(package, path).read_text()
    for line in ("Type=oneshot", "RemainAfterExit=yes", "ExecStart=/usr/bin/snf-network reapply",
                 "After=nftables.service", "PartOf=nftables.service", "WantedBy=multi-user.target"):
        assert f"\n{line}\n" in unit, f"{path} lacks {line}"
    postinst = _control_file(package, "postinst")
    assert "deb-systemd-helper enable 'snf-network-reapply.service'" in postinst
    # Enabled, not started by the package (see debian/rules).
    assert not [line for line in postinst.splitlines()
                if "deb-systemd-invoke" in line and "snf-network-reapply" in line]


def test_dhcpd_unit_runs_unprivileged_with_raw_sockets_only(package: Package) -> None:
    path = "/lib/systemd/system/snf-dhcpd.service"
    assert path in package.entries, f"{path} is not installed"
    unit = _inside(package, path).read_text()
    for line in ("ExecStart=/usr/bin/snf-dhcpd --foreground", "Restart=on-failure", "User=snf-dhcpd",
                 "AmbientCapabilities=CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_RAW",
                 "ExecReload=/bin/kill -HUP $MAINPID", "WantedBy=multi-user.target"):
        assert f"\n{line}\n" in unit, f"{path} lacks {line}"
    assert "deb-systemd-helper enable 'snf-dhcpd.service'" in _control_file(package, "postinst")
    assert package.entries["/var/lib/nfdhcpd"].kind == "d"


def test_communication_unit(package: Package) -> None:
    path = "/lib/systemd/system/snf-network-communication.service"
    assert package.entries.get(path) is not None, f"{path} is not installed"
    unit = _inside(package, path).read_text()
    for line in ("Type=simple", "ExecStart=/usr/bin/snf-network communication serve",
                 "ExecReload=/bin/kill -HUP $MAINPID", "WantedBy=multi-user.target"):
        assert f"\n{line}\n" in unit, f"{path} lacks {line}"
    assert "deb-systemd-helper enable 'snf-network-communication.service'" in _control_file(package, "postinst")
    wrapper = "/usr/lib/snf-network/ifup-os"
    assert package.entries.get(wrapper) is not None, f"{wrapper} is not installed"
    assert "exec /usr/bin/kvm-vif-bridge" in _inside(package, wrapper).read_text()


def test_nld_unit(package: Package) -> None:
    path = "/lib/systemd/system/snf-nld.service"
    assert package.entries.get(path) is not None and package.entries[path].kind == "-", f"{path} is not installed"
    unit = _inside(package, path).read_text()
    for line in ("ExecStartPre=+/usr/bin/snf-network overlay setup", "ExecStart=/usr/bin/snf-nld --foreground",
                 "ExecReload=+/usr/bin/snf-network overlay setup", "ExecReload=/bin/kill -HUP $MAINPID",
                 "PartOf=nftables.service",
                 "Restart=on-failure", "CapabilityBoundingSet=CAP_NET_ADMIN", "NoNewPrivileges=yes",
                 "ConditionDirectoryNotEmpty=/etc/snf-network/nbma/overlays", "WantedBy=multi-user.target"):
        assert f"\n{line}\n" in unit, f"{path} lacks {line}"
    assert "deb-systemd-helper enable 'snf-nld.service'" in _control_file(package, "postinst")
    assert "/etc/snf-network/nbma/overlays" in package.entries


def test_docs_and_log_directory(package: Package) -> None:
    docs = "/usr/share/doc/snf-network"
    # dh_compress gzips documents over 4 kB, README.Debian among them.
    assert {f"{docs}/README.Debian", f"{docs}/README.Debian.gz"} & set(package.entries)
    assert f"{docs}/copyright" in package.entries
    assert not [path for path in package.entries if "development.md" in path], "developers' docs are shipped"
    # The licence is in copyright; lintian flags any other copy (extra-license-file).
    assert not [path for path in package.entries if os.path.basename(path).startswith(("COPYING", "LICENSE"))]
    assert "/usr/share/lintian/overrides/snf-network" in package.entries
    assert package.entries["/var/log/ganeti"].kind == "d"
    # The postinst creates the log as logrotate recreates it: 0640 root root.
    assert "create 0640 root root" in _inside(package, "/etc/logrotate.d/00-snf-network").read_text()
    assert "umask 027" in _control_file(package, "postinst")


def test_copying_in_sdist(package: Package, tmp_path: Path) -> None:
    licence = package.source / "COPYING"
    common = Path("/usr/share/common-licenses/GPL-2")
    if common.exists():
        assert licence.read_bytes() == common.read_bytes(), "COPYING is not the GPL-2 text"
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    built = _run([PYTHON, "-c", code, str(tmp_path)], cwd=package.source, env=_build_env(tmp_path), timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    sdist = tmp_path / built.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert "COPYING" in names, sorted(names)
    assert {f"man/{name}.8" for name in MAN_PAGES} <= names, sorted(names)


def test_lintian(package: Package) -> None:
    lintian = shutil.which("lintian", path=SYSTEM_PATH)
    if lintian is None:
        pytest.skip("lintian check skipped: lintian is not installed (tools/setup.sh installs it)")
    run = _run([lintian, "--pedantic", "--display-info", "--no-tag-display-limit", str(package.deb)],
               env={"PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8", "HOME": str(package.source.parent)}, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:", "X:")]
    for line in lines:
        print(line)  # shown with -s; information and pedantic tags do not fail the test
    failing = [line for line in lines if line[:2] in ("E:", "W:")
               and line.split()[2] not in LINTIAN_JUSTIFIED]
    assert not failing, "\n".join(failing)
