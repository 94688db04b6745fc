"""Which URLs a webhook may be sent to: http(s) only, and, unless WEBHOOK_ALLOW_PRIVATE, no address of a private,
loopback, link-local, reserved or otherwise non-public range, checked on registration and again before each send
(what a name resolves to can change)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeDestination(ValueError):
    """The URL may not be used as a webhook destination; the message says why."""


def check_destination(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination("Only http and https URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeDestination("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeDestination("The URL's port is invalid.") from None
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        raise UnsafeDestination(f"The host {parts.hostname} cannot be resolved.") from None
    for address in addresses:
        if not is_public(address):
            raise UnsafeDestination(
                f"The host {parts.hostname} resolves to {address}, a private, loopback, link-local or reserved "
                "address; webhooks are only sent to public addresses."
            )


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified
    )
