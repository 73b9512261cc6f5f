"""Run by the crash test as a subprocess: ``publisher send`` with cheap prebuilt messages.

Usage: python -m tests.send_prebuilt CONFIG
"""

from __future__ import annotations

import sys

from publisher.config import load_settings
from publisher.jobs import open_store

from .smtp_faults import PrebuiltMessages, send_with

if __name__ == "__main__":
    settings = load_settings(sys.argv[1])
    with open_store(settings) as store:
        report = send_with(settings, store, PrebuiltMessages(settings.site.domain))
    print(f"sent {report.sent}, retry {report.retry}, failed {report.failed}")
