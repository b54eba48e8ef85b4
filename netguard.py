"""Which network addresses the app may fetch from, checked where each connection is made.

A URL checked only when it is typed can still lead to a private address: through a redirect, a DNS
answer that changes before the download, an address the extractor finds in a page, or an HLS/DASH
playlist's fragments. So the analysis process checks every connection it makes (`install`): names
are checked when they are resolved (the name is known there, for the message) and every socket
connect is checked again on the exact address it is about to reach.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

REFUSAL_HINT = "set ALLOW_PRIVATE_URLS=1 to allow such addresses."


class RefusedAddress(ConnectionRefusedError):
    """A connection to an address the policy refuses; the message is written for a person."""


@dataclass(frozen=True)
class AddressPolicy:
    """Private, loopback, link-local, shared (100.64.0.0/10) and other non-global addresses are
    refused unless `allow_private`; `allowed_networks` (CIDR) are reachable even so."""
    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()

    def refuses(self, address: str) -> bool:
        if self.allow_private:
            return False
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_global and not ip.is_multicast:
            return False
        return not any(ip in ipaddress.ip_network(network, strict=False) for network in self.allowed_networks)


def refusal_message(host: str, address: str) -> str:
    if host == address:
        return f"The download was refused: {address} is a private address; {REFUSAL_HINT}"
    return f"The download was refused: {host} resolves to a private address, {address}; {REFUSAL_HINT}"


def resolve(host: str) -> list[str]:
    """Every address the host resolves to; socket.gaierror when it does not resolve."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, None)))


def install(policy: AddressPolicy) -> None:
    """Check every connection this process makes from now on (the analysis process does this once)."""
    if policy.allow_private:
        return
    resolve_original = socket.getaddrinfo
    connect_original, connect_ex_original = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        answers = resolve_original(host, *args, **kwargs)
        allowed = [answer for answer in answers
                   if answer[0] not in (socket.AF_INET, socket.AF_INET6) or not policy.refuses(answer[4][0])]
        if answers and not allowed:
            name = host.decode() if isinstance(host, bytes) else str(host)
            raise RefusedAddress(refusal_message(name, answers[0][4][0]))
        return allowed

    def checked(sock: socket.socket, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host, port, *rest = address
            # Resolved (and checked) here, and the checked address is the one connected to, so
            # neither a literal address nor a name whose answer changes gets past.
            return (getaddrinfo(host, port, sock.family, sock.type)[0][4][0], port, *rest)
        return address

    def connect(self, address):
        return connect_original(self, checked(self, address))

    def connect_ex(self, address):
        return connect_ex_original(self, checked(self, address))

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
