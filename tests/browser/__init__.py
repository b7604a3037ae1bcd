"""Browser tests: Playwright driving Debian's Chromium through the whole running system."""
