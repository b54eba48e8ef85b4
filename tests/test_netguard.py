"""The address guard: which addresses it refuses, and that once installed it refuses them at connect time."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from netguard import AddressPolicy
from tests.conftest import REPO


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "100.127.255.254",  # shared address space (carrier-grade NAT): is_private is False here
    "192.0.2.10", "198.18.0.1", "224.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fe80::1%lo", "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1",
])
def test_non_global_addresses_are_refused(address):
    assert AddressPolicy().refuses(address)
    assert not AddressPolicy(allow_private=True).refuses(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946",
                                     "::ffff:93.184.216.34"])
def test_global_addresses_pass(address):
    assert not AddressPolicy().refuses(address)


def test_allowed_networks_open_only_themselves():
    policy = AddressPolicy(allowed_networks=("192.168.1.20/32", "10.0.0.0/8"))
    assert not policy.refuses("192.168.1.20") and not policy.refuses("10.200.0.1")
    assert policy.refuses("192.168.1.21") and policy.refuses("127.0.0.1")


def run_guarded(code: str) -> str:
    """Run `code` in a fresh interpreter (the guard patches the process for good), with a listener
    on 127.0.0.1 at `port`; return what it printed."""
    script = textwrap.dedent("""
        import socket, urllib.request
        import netguard
        listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(8)
        port = listener.getsockname()[1]
    """) + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_installed_guard_refuses_names_and_addresses_when_connecting():
    printed = run_guarded("""
        netguard.install(netguard.AddressPolicy())
        for target in ("localhost", "127.0.0.1"):
            try:
                urllib.request.urlopen(f"http://{target}:{port}/", timeout=5)
            except OSError as error:
                print(error)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5)
        except netguard.RefusedAddress as error:
            print("create_connection:", error)
        try:
            socket.socket().connect(("127.0.0.1", port))
        except netguard.RefusedAddress as error:
            print("connect:", error)
    """)
    assert "The download was refused: localhost resolves to a private address" in printed
    assert "The download was refused: 127.0.0.1 is a private address" in printed
    assert "create_connection: The download was refused" in printed and "connect: The download was refused" in printed
    assert "set ALLOW_PRIVATE_URLS=1" in printed


def test_installed_guard_lets_allowed_networks_through():
    printed = run_guarded("""
        netguard.install(netguard.AddressPolicy(allowed_networks=("127.0.0.1/32",)))
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        print("connected", sock.getpeername()[1] == port)
    """)
    assert printed.strip() == "connected True"
