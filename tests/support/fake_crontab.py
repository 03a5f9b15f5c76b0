"""A stand-in for the ``crontab`` program backed by a file, for tests (never the real user crontab).

``crontab -l`` prints ``$FAKE_CRONTAB_FILE`` (or fails like cron's "no crontab for
USER" when it does not exist); ``crontab -`` replaces it with stdin. Point the toolkit at
it with ``$TOOLKIT_CRONTAB`` (see :func:`write_fake_crontab`).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

PROGRAM = f"""#!{sys.executable}
import os, sys
from pathlib import Path
tab = Path(os.environ["FAKE_CRONTAB_FILE"])
if sys.argv[1:] == ["-l"]:
    if not tab.exists():
        sys.stderr.write("no crontab for tester\\n")
        sys.exit(1)
    sys.stdout.write(tab.read_text())
elif sys.argv[1:] == ["-"]:
    tab.write_text(sys.stdin.read())
else:
    sys.stderr.write("usage: crontab -l | crontab -\\n")
    sys.exit(2)
"""


def write_fake_crontab(folder: Path) -> Path:
    """Write the program into ``folder``; the caller sets ``$FAKE_CRONTAB_FILE`` and ``$TOOLKIT_CRONTAB``."""
    program = folder / "fake-crontab"
    program.write_text(PROGRAM)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program
