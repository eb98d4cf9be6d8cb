"""The records every capture driver produces: small, deterministic, with keys and headers."""

RECORDS = 20
FILLER = "the quick brown fox jumps over the lazy dog " * 4


def key(i):
    return "key-%03d" % i


def value(client, codec, i):
    # About 100 bytes, compressible like real text.
    return ("%s %s record %03d: %s" % (client, codec, i, FILLER))[:100]


def headers(client, i):
    return [("trace-id", "%03d" % i), ("source", client)]
