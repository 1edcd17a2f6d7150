# mk/browser.mk -- Debian's Chromium and ChromeDriver for the catalog's browser test
# (tests/test_catalog.py drives `sqlfeat docs` pages in headless Chromium through selenium).
#
# Included from the main Makefile (`include mk/browser.mk`), which also makes `install-test`
# (and so `make test`) depend on it; usable on its own:  make -f mk/browser.mk browser
# apt-get runs only when a binary is missing (it needs root, as on the CI machines); the test
# itself never installs anything.

# including this file must not change the includer's default goal (restored at the end)
_BROWSER_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

.PHONY: browser
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

install-test: browser

.DEFAULT_GOAL := $(_BROWSER_SAVED_DEFAULT_GOAL)
