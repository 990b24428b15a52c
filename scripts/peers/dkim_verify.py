"""Checks every DKIM-Signature of a message with dkimpy, an implementation squall did not write.

    dkim_verify.py MESSAGE_FILE SELECTOR._domainkey.DOMAIN=RECORD ...

The public keys come from the arguments (dkimpy's DNS hook), never from the network. Prints one
line per signature, "pass" or "fail <why>", and exits 0 only if there is at least one signature
and all pass.
"""

import sys

import dkim


def main() -> int:
    message = open(sys.argv[1], "rb").read()
    records = {}
    for arg in sys.argv[2:]:
        name, record = arg.split("=", 1)
        records[name.rstrip(".").lower()] = record.encode()

    def dns(name, timeout=5):
        return records.get(name.decode().rstrip(".").lower())

    d = dkim.DKIM(message)
    count = sum(1 for line in d.headers if line[0].lower() == b"dkim-signature")
    ok = count > 0
    if count == 0:
        print("fail no DKIM-Signature")
    for i in range(count):
        try:
            passed = dkim.DKIM(message).verify(idx=i, dnsfunc=dns)
            why = ""
        except dkim.DKIMException as e:
            passed, why = False, str(e)
        print("pass" if passed else f"fail {why}".rstrip())
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
