"""``EmailMessage`` with header lookups that do not rescan and reparse every time.

The stdlib's ``Message.get`` lower-cases every header name of the part on each
call, ``in`` builds a list of them, and each fetch re-joins the value and
hashes it into the header registry; the MIME walk and the parser ask a part
for its Content-Type (type, charset, boundary, name) a dozen times. Here a
part keeps an index of its lower-cased names, the header object fetched for
each field and that field's parsed parameters. Results are the stdlib's own:
every cache is checked against the header list it was built from (the same
list object, the same length, the same field tuple at that position), and the
stdlib methods that replace or rebuild headers (``replace_header``,
``set_boundary``, ``del``, ``clear``) swap that tuple or the list, so a stale
entry is never used.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

_MISSING = object()


class IndexedMessage(EmailMessage):
    def _first_positions(self) -> dict[str, int]:
        """Lower-cased name → position of its first field."""
        headers = self._headers  # type: ignore[attr-defined]
        state = self.__dict__.get("_index_state")
        if state is not None and state[0] is headers and state[1] == len(headers):
            return state[2]  # type: ignore[no-any-return]
        positions: dict[str, int] = {}
        for position, (name, _) in enumerate(headers):
            positions.setdefault(name.lower(), position)
        # Fetched header objects and parsed parameters belong to this header list.
        self.__dict__["_index_state"] = (headers, len(headers), positions, {})
        return positions

    def _field(self, name: str) -> tuple[int, tuple[str, Any]] | None:
        position = self._first_positions().get(name.lower())
        if position is None:
            return None
        return position, self._headers[position]  # type: ignore[attr-defined]

    def __contains__(self, name: object) -> bool:
        return name.lower() in self._first_positions()  # type: ignore[attr-defined]

    def get(self, name: str, failobj: Any = None) -> Any:
        found = self._field(name)
        if found is None:
            return failobj
        position, field = found
        memo = self.__dict__["_index_state"][3]
        key = ("value", position)
        cached = memo.get(key)
        if cached is not None and cached[0] is field and cached[1] is self.policy:
            return cached[2]
        value = self.policy.header_fetch_parse(*field)
        memo[key] = (field, self.policy, value)
        return value

    def get_content_type(self) -> str:
        found = self._field("content-type")
        if found is None:
            return self.get_default_type()
        position, field = found
        memo = self.__dict__["_index_state"][3]
        key = ("content_type", position)
        cached = memo.get(key)
        if cached is not None and cached[0] is field and cached[1] is self.policy:
            return cached[2]  # type: ignore[no-any-return]
        content_type = super().get_content_type()
        memo[key] = (field, self.policy, content_type)
        return content_type

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        found = self._field(header)
        if found is None:
            return failobj
        position, field = found
        memo = self.__dict__["_index_state"][3]
        key = ("params", position)
        cached = memo.get(key)
        if cached is not None and cached[0] is field and cached[1] is self.policy:
            return list(cached[2])
        params = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        # A fresh list each call, as the stdlib returns: callers may change it.
        memo[key] = (field, self.policy, tuple(params))
        return list(params)
