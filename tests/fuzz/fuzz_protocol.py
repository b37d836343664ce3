"""atheris harness for the protocol parsers.

Usage: `python tests/fuzz/fuzz_protocol.py -max_total_time=60`

The target and its seeds are in targets.py; crash files it writes are
replayed by passing them as arguments.
"""

from targets import main

if __name__ == "__main__":
    main("protocol")
