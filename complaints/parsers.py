"""The API's JSON parser: DRF's, with a bound on how deeply a body may nest.

No request body of the API nests more than an object of plain values. A body nested a thousand
deep made Python's JSON decoder raise RecursionError (a 500); one a few hundred deep parsed, and
then a serializer field, comparing or printing the value, ran out of stack (a 500 again). Both
are refused here as malformed JSON (400), before any field sees them.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32  # arrays and objects inside one another; the API's bodies use 1


def _nesting_exceeds(data: object, limit: int) -> bool:
    """Whether ``data`` holds arrays or objects more than ``limit`` deep (without recursion)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        pending.extend((item, depth + 1) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if _nesting_exceeds(data, MAX_DEPTH):
            raise too_deep
        return data
