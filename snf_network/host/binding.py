"""Files other daemons read (nfdhcpd's bindings): written in place, removed on undo."""

from __future__ import annotations

from snf_network.host import Backend
from snf_network.plan import BindingFile

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item


class BindingBackend(Backend):
    kinds = (BindingFile.kind,)
    title = "files"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        wanted = {item.path for item in add if isinstance(item, BindingFile)}
        for item in remove:
            if isinstance(item, BindingFile) and item.path not in wanted:
                host.remove(item.path)
        for item in add:
            if isinstance(item, BindingFile):
                host.write_in_place(item.path, item.content)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        lines = []
        for item in add:
            if isinstance(item, BindingFile):
                lines += [f"write {item.path}:", *(f"  {line}" for line in item.content.splitlines())]
        return lines

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        def check(items: list[Item]) -> list[str]:
            problems = []
            for item in items:
                if isinstance(item, BindingFile):
                    content = host.read(item.path)
                    if content != item.content:
                        problems.append(f"{'missing' if content is None else 'changed'} file {item.path}")
            return problems

        return check


BACKEND = BindingBackend()
