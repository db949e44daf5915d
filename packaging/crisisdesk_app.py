"""Entry point of the frozen application (packaging/crisisdesk.spec).

The frozen ``crisisdesk`` binary is the whole command line: no arguments open the app,
``crisisdesk doctor`` or ``crisisdesk info PROJECT`` work as in a pip install.
"""

import multiprocessing
import sys

from crisisdesk.cli import main

if __name__ == "__main__":
    # The embed job decodes images in worker processes on a GPU; a frozen binary must
    # recognise itself being started as one of them.
    multiprocessing.freeze_support()
    sys.exit(main())
