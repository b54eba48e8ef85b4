"""`flask --app app users …`: accounts from the server's shell, the way back in when everyone is locked out.

Passwords are asked for twice at a terminal, or read as one line from standard input
(`echo "$PASSWORD" | flask --app app users create ann`); they are never printed or logged.
"""
from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import AppGroup

import accounts
import db
from accounts import AccountError

users = AppGroup("users", help="Accounts that can sign in (needed when the app listens beyond this machine).")


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _account_error(error: AccountError) -> click.ClickException:
    return click.ClickException(str(error))


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May change settings and accounts and delete any job.")
def create(name: str, admin: bool) -> None:
    """Create an account; its password is asked for (or read from standard input)."""
    connection = db.get_db()
    try:
        accounts.check_name(name)
        user = accounts.create_user(connection, name, _password(), "admin" if admin else "member")
    except AccountError as error:
        raise _account_error(error) from None
    click.echo(f"Created the {user.role} account {user.name}.")


@users.command("list")
def list_users() -> None:
    """The accounts, their roles and when they last signed in."""
    rows = db.list_users(db.get_db())
    if not rows:
        click.echo("No accounts.")
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        last = datetime.fromtimestamp(row["last_sign_in_at"]).strftime("%Y-%m-%d %H:%M") if row["last_sign_in_at"] else "never"
        click.echo(f"{row['name']:<{width}}  {row['role']:<6}  last sign-in {last}  "
                   f"{row['token_count']} token{'s' if row['token_count'] != 1 else ''}")


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete an account with its sign-ins and API tokens; its jobs stay."""
    connection = db.get_db()
    try:
        user = accounts.find_user(connection, name)
        if not yes:
            click.confirm(f"Delete the account {user.name}?", abort=True)
        accounts.delete_user(connection, user)
    except AccountError as error:
        raise _account_error(error) from None
    click.echo(f"Deleted the account {user.name}.")


@users.command("set-password")
@click.argument("name")
def set_password(name: str) -> None:
    """Give an account a new password: it is signed out everywhere and may sign in at once."""
    connection = db.get_db()
    try:
        user = accounts.find_user(connection, name)
        accounts.set_password(connection, user, _password())
    except AccountError as error:
        raise _account_error(error) from None
    click.echo(f"New password set for {user.name}; their sign-ins elsewhere are ended.")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(accounts.ROLES))
def set_role(name: str, role: str) -> None:
    """Make an account an admin or a member."""
    connection = db.get_db()
    try:
        user = accounts.find_user(connection, name)
        accounts.set_role(connection, user, role)
    except AccountError as error:
        raise _account_error(error) from None
    click.echo(f"{user.name} is now {role}.")
