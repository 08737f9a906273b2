"""Times the official `plivo` Python SDK's V3 validation on public vector 1 (docs/wire-format.md, §8).

Prints two lines: `python validate <ns>` (validate_v3_signature with the params already a
dict) and `python parse+validate <ns>` (also parsing the form body, as a handler must).
"""

import sys
import timeit
from urllib.parse import parse_qsl

from plivo.utils.signature_v3 import validate_v3_signature

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from vector import BODY, NONCE, SIGNATURE, TOKEN, URL  # noqa: E402


def parse():
    return dict(parse_qsl(BODY, keep_blank_values=True))


PARAMS = parse()
assert validate_v3_signature("POST", URL, NONCE, TOKEN, SIGNATURE, PARAMS), "vector 1 must verify"
assert not validate_v3_signature("POST", URL, NONCE, TOKEN + "x", SIGNATURE, PARAMS)


def best_ns(fn):
    number = 2000
    runs = timeit.repeat(fn, number=number, repeat=7)
    return min(runs) / number * 1e9


print("python validate %.0f" % best_ns(
    lambda: validate_v3_signature("POST", URL, NONCE, TOKEN, SIGNATURE, PARAMS)))
print("python parse+validate %.0f" % best_ns(
    lambda: validate_v3_signature("POST", URL, NONCE, TOKEN, SIGNATURE, parse())))
