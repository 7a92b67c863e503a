"""`python -m webapp user ...` and `token ...`: manage users and their API tokens from the
shell. Passwords come from a prompt, or
from standard input when it is not a terminal, never from an argument (shell history)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

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


def add_token_commands(
    subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    token = subparsers.add_parser("token", help="manage users' API tokens", parents=[common])
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="make a token for a user (printed once)", parents=[common])
    add.add_argument("name", help="the user")
    add.add_argument("--read-only", action="store_true", help="the token may not write")
    add.add_argument("--expires", type=int, metavar="DAYS", help="expire after DAYS days")
    add.add_argument("--label", default="", help="a name to tell the token by")
    listing = actions.add_parser("list", help="list a user's tokens", parents=[common])
    listing.add_argument("name", help="the user")
    revoke = actions.add_parser("revoke", help="end a token for good", parents=[common])
    revoke.add_argument("id", type=int, help="the token's number (from `token list`)")


async def run_token_command(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    """Carry out one `token` action; AccountError says what was wrong with the input."""
    from webapp.accounts.api_tokens import create_token, list_tokens, revoke_token
    from webapp.accounts.store import Accounts, accounts_database
    from webapp.database.dialects import create_engine

    engine = create_engine(accounts_database(settings) or settings.database)
    try:
        accounts = Accounts.on(engine, settings.auth)
        await accounts.migrate()
        if args.action == "add":
            text, token = await create_token(
                accounts, args.name, name=args.label, read_only=args.read_only, days=args.expires
            )
            print(text, file=out)
            kind = "read-only" if token.read_only else "read-write"
            until = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
            print(
                f"webapp: token {token.id} for {args.name} ({kind}{until}); shown only now",
                file=sys.stderr,
            )
        elif args.action == "list":
            for token in await list_tokens(accounts, args.name):
                print("\t".join(token_line(token)), file=out)
        elif args.action == "revoke":
            await revoke_token(accounts, args.id)
            print(f"webapp: token {args.id} revoked", file=out)
    finally:
        await engine.dispose()


def token_line(token: Any) -> list[str]:
    """A token as `token list` prints it: number, name, access, created, expires, last
    used, revoked."""

    def moment(value: Any) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"

    state = "revoked " + moment(token.revoked_at) if token.revoked_at else "active"
    return [
        str(token.id),
        token.name or "-",
        "read-only" if token.read_only else "read-write",
        "created " + moment(token.created_at),
        "expires " + moment(token.expires_at),
        "used " + moment(token.last_used_at),
        state,
    ]
