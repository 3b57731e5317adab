"""An irctest controller that starts switchboard, one server per test.

scripts/irctest.sh puts this directory on PYTHONPATH and passes
`--controller switchboard_controller`. Environment:

- SWITCHBOARD_BIN: the switchboard binary to run.
- SWITCHBOARD_OPER: an Argon2id hash of "operpassword", the password
  irctest's operator tests give for operator "operuser" (optional).
- SWITCHBOARD_ARGS: more flags, e.g. "--transport evented" (optional).
"""

import os
import shlex
from typing import Optional, Type

from irctest.basecontrollers import BaseServerController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities


class SwitchboardController(BaseServerController):
    software_name = "switchboard"
    supported_sasl_mechanisms: set = set()
    supports_sts = False
    _port_wait_interval = 0.01

    # Exactly what `CAP LS` offers (src/protocol/mod.rs, Caps::OFFERED) among
    # the capabilities irctest knows; the others are skipped when NAKed.
    capabilities = frozenset(
        (
            Capabilities.AWAY_NOTIFY,
            Capabilities.ECHO_MESSAGE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        )
    )

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if ssl:
            raise NotImplementedByController("TLS")
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if run_services:
            raise NotImplementedByController("services")
        assert self.proc is None
        self.hostname = hostname
        self.port = port
        command = [
            os.environ["SWITCHBOARD_BIN"],
            "--irc-listen",
            f"{hostname}:{port}",
            "--line-listen",
            "off",
            "--server-name",
            "My.Little.Server",
            # irctest sends faster than any person; flood control would only
            # slow it down.
            "--rate",
            "0",
        ]
        if os.environ.get("SWITCHBOARD_OPER"):
            command += ["--oper", "operuser:" + os.environ["SWITCHBOARD_OPER"]]
        if password is not None:
            command += ["--password", password]
        command += shlex.split(os.environ.get("SWITCHBOARD_ARGS", ""))
        self.proc = self.execute(command)


def get_irctest_controller_class() -> Type[SwitchboardController]:
    return SwitchboardController
