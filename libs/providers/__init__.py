"""One package per messaging provider (architecture §9): inbound verification and
parsing, outbound request building, status parsing and a thin async client.
No web framework is imported here; services build their routes from
:mod:`libs.providers.registry`.
"""
