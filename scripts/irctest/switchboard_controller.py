"""An irctest controller that starts switchboard, one server per test.

switchboard's services are built in (the NickServ pseudo-user and SASL), so
tests that need services run against the server alone, and accounts are
registered through NickServ as irctest's controller for ergo does.

scripts/irctest.sh puts this directory on PYTHONPATH and passes
`--controller switchboard_controller`. Environment:

- SWITCHBOARD_BIN: the switchboard binary to run.
- SWITCHBOARD_OPER: an Argon2id hash of "operpassword", the password
  irctest's operator tests give for operator "operuser" (optional).
- SWITCHBOARD_ARGS: more flags, e.g. "--transport evented" (optional).
"""

import os
import shlex
import subprocess
from typing import Optional, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.cases import BaseServerTestCase
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities


class SwitchboardController(BaseServerController, DirectoryBasedController):
    software_name = "switchboard"
    supported_sasl_mechanisms = {"PLAIN", "SCRAM-SHA-256"}
    supports_sts = False
    _port_wait_interval = 0.01

    # Exactly what `CAP LS` offers (src/protocol/caps.rs, Caps::OFFERED) among
    # the capabilities irctest knows; the others are skipped when NAKed.
    capabilities = frozenset(
        (
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.EXTENDED_JOIN,
            Capabilities.LABELED_RESPONSE,
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
        assert self.proc is None
        self.hostname = hostname
        self.port = port
        scheme = "irc"
        tls = []
        if ssl:
            # A self-signed pair in a directory of its own, removed by kill().
            self.create_config()
            assert self.directory
            self.pem_path = self.directory / "ssl.pem"
            self.key_path = self.directory / "ssl.key"
            subprocess.run(
                [
                    os.environ["SWITCHBOARD_BIN"],
                    "gen-cert",
                    "--cert",
                    str(self.pem_path),
                    "--key",
                    str(self.key_path),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            scheme = "ircs"
            tls = ["--tls-cert", str(self.pem_path), "--tls-key", str(self.key_path)]
        command = [
            os.environ["SWITCHBOARD_BIN"],
            "--listen",
            f"{scheme}://{hostname}:{port}",
            *tls,
            "--server-name",
            "My.Little.Server",
            # irctest sends faster than any person; flood control would only
            # slow it down.
            "--rate",
            "0",
            # Each test starts afresh; nothing to keep.
            "--db",
            ":memory:",
        ]
        if websocket_hostname is not None and websocket_port is not None:
            # IRC over WebSocket is served on HTTP listeners, at / and /ws.
            command += ["--listen", f"http://{websocket_hostname}:{websocket_port}"]
        if os.environ.get("SWITCHBOARD_OPER"):
            command += ["--oper", "operuser:" + os.environ["SWITCHBOARD_OPER"]]
        if password is not None:
            command += ["--password", password]
        command += shlex.split(os.environ.get("SWITCHBOARD_ARGS", ""))
        self.proc = self.execute(command)


    def wait_for_services(self) -> None:
        # Built in: up as soon as the port is.
        pass

    def registerUser(
        self,
        case: BaseServerTestCase,
        username: str,
        password: Optional[str] = None,
    ) -> None:
        assert password
        register = "PRIVMSG NickServ :REGISTER " + password
        if len(register.encode()) > 510:
            # Accounts are registered in one IRC line (or one nc line, which
            # the controller does not use); such a password does not fit.
            raise NotImplementedByController("passwords longer than an IRC line")
        client = case.addClient(show_io=False)
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER r e g :user")
        while case.getRegistrationMessage(client).command != "001":
            pass
        case.getMessages(client)
        case.sendLine(client, register)
        # NickServ answers once the account is hashed and committed, or
        # says why not.
        while True:
            msg = case.getMessage(client)
            if msg.command == "NOTICE" and msg.prefix.startswith("NickServ!"):
                assert "registered" in msg.params[-1], msg
                break
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)


def get_irctest_controller_class() -> Type[SwitchboardController]:
    return SwitchboardController
