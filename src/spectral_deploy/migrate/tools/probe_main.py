"""The entry point every probe shares, appended to its source by ``probe.run_probe``: run
the probe's ``main(argv)`` (defined above this text once appended); any failure prints its
traceback and exits 1 (``run_probe`` shows the end). Python 3.8 syntax, standard library
only, like the probes."""

import sys
import traceback

if __name__ == "__main__":
    try:
        globals()["main"](sys.argv[1:])
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
