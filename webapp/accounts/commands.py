"""`python -m webapp user ...`: manage users from the shell. Passwords come from a prompt, or
from standard input when it is not a terminal, never from an argument (shell history)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from webapp.settings import ROLES, Settings


def add_user_commands(
    subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    user = subparsers.add_parser("user", help="manage users", parents=[common])
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="add a user (password from a prompt or stdin)", parents=[common]
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    actions.add_parser("list", help="list users", parents=[common])
    set_role = actions.add_parser("set-role", help="change a user's role", parents=[common])
    set_role.add_argument("name")
    set_role.add_argument("role", help=f"one of {', '.join(ROLES)}")
    for name, text in (
        ("disable", "stop a user from signing in"),
        ("enable", "let a user sign in again"),
    ):
        action = actions.add_parser(name, help=text, parents=[common])
        action.add_argument("name")
    password = actions.add_parser("set-password", help="set a user's password", parents=[common])
    password.add_argument("name")


async def run_user_command(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Carry out one `user` action; AccountError says what was wrong with the input.
    (Imported here: `python -m webapp user --help` needs only the parser above.)"""
    from webapp.accounts.store import Accounts, accounts_database, check_role
    from webapp.database.dialects import create_engine

    engine = create_engine(accounts_database(settings) or settings.database)
    try:
        accounts = Accounts.on(engine, settings.auth)
        await accounts.migrate()
        if args.action == "add":
            check_role(args.role)  # before asking for a password
            await accounts.add_user(args.name, args.role, read_password())
            print(f"webapp: added {args.name} ({args.role})", file=out)
        elif args.action == "list":
            for user in await accounts.list_users():
                status = "disabled" if user.disabled else "active"
                if user.password_hash is None:
                    status += ", no password"
                print(f"{user.username}\t{user.role}\t{status}", file=out)
        elif args.action == "set-role":
            await accounts.set_role(args.name, args.role)
            print(f"webapp: {args.name} is now {args.role}", file=out)
        elif args.action in ("disable", "enable"):
            await accounts.set_disabled(args.name, args.action == "disable")
            print(f"webapp: {args.name} is {args.action}d", file=out)
        elif args.action == "set-password":
            async with accounts.sessionmaker() as session:
                await accounts.find(session, args.name)
            await accounts.set_password(args.name, read_password())
            print(f"webapp: new password set for {args.name}", file=out)
    finally:
        await engine.dispose()


def read_password() -> str:
    """Twice from a prompt on a terminal; else the first line of standard input."""
    from webapp.accounts.store import AccountError

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise AccountError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")
