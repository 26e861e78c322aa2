"""Named crash points for the fault-injection tests (tests/faults), and nothing else.

`crashpoint(NAME)` kills the running process with SIGKILL when the environment
variable CERTPLAN_TEST_CRASH_AT equals NAME, so a test can stop a real
`python -m certplan apply` at an exact step, as `kill -9` or a power cut would.
Unset (always, outside tests) it does nothing. Only the process environment is
read: no spec, config, state or saved plan (files that come from git) can set it.

Points in use (grep for `crashpoint(`):

    after-order          the order exists at the CA and is recorded in state
    after-download       the certificate is in the keystore; state not yet written
    after-state          state records the certificate; the pending key not yet cleared
    after-rollover       the CA was asked to change the account key; no answer read yet
"""

from __future__ import annotations

import os
import signal

ENV = "CERTPLAN_TEST_CRASH_AT"


def crashpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
