# certplan: two commands on a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEB_PACKAGES = pebble nginx-light bind9 bind9-utils bind9-dnsutils openssl openssh-client openssh-server postgresql
# what `make demo` runs: Pebble (bookworm's 2.4 is enough), an nginx, openssl
DEMO_PACKAGES = pebble nginx-light openssl
# Installs the Debian packages of $(1) that are missing; nginx-light only when no nginx
# binary is there at all (any nginx package, or one built by hand, serves the tests).
define apt_missing
	@missing=""; for p in $(1); do \
	  if [ "$$p" = nginx-light ] && { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }; then continue; fi; \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

.PHONY: venv deps demo-deps test unit lint demo bench dist clean

$(BIN)/certplan: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "installing python3-venv"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv >/dev/null; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $@

venv: $(BIN)/certplan

# Debian packages the integration tests and the demo run (installed only when missing;
# postgresql: its binaries only, the tests start a throwaway cluster of their own),
# and trixie's Pebble 2.6 (it serves ARI) unpacked into /opt/pebble26 for the ARI tests.
deps:
	$(call apt_missing,$(DEB_PACKAGES))
	@sh tools/pebble26.sh

# the demo fetches only what it runs: no BIND, no PostgreSQL, no trixie Pebble
demo-deps:
	$(call apt_missing,$(DEMO_PACKAGES))

test: venv deps
	$(BIN)/pytest -q

unit: venv
	$(BIN)/pytest -q tests/unit

lint: venv
	$(BIN)/ruff check certplan tests bench
	$(BIN)/mypy  # strict (pyproject.toml)

demo: venv demo-deps
	$(BIN)/python -m bench.demo

bench: venv deps
	$(BIN)/python -m bench.plan_bench
	$(BIN)/python -m bench.apply_bench
	$(BIN)/python -m bench.dns_issuance
	$(BIN)/python -m bench.ssh_fleet
	$(BIN)/python -m bench.pg_bench

# a wheel to install elsewhere: pipx install dist/certplan-*.whl (or pip install)
dist: venv
	rm -rf dist build
	$(BIN)/pip wheel -q --no-deps --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf $(VENV) .demo dist build
