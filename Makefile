# rootless-build: machine set-up, tests and demo. Run as root (CI does: `bash .ci/run`).
# Everything the unprivileged users run comes from the synced copy in $(SRC), since the
# clone itself may live where they cannot read it (/root).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

OPT      := /opt/rootless-build
SRC      := $(OPT)/src
VENV     := $(OPT)/venv
CACHE    := /var/cache/rootless-build-test
AS_USER  := $(CURDIR)/scripts/as-user
REG_PORT := 5000
PYTEST   := python -m pytest -p no:cacheprovider -q

# pytest exit code 5 means "no tests collected": not a failure for a selection by marker.
# Any other failure sets rc=1 and the next command still runs.
define run_tests
$(1) || { r=$$?; [ $$r = 5 ] || rc=1; }
endef

.PHONY: all setup sync testdata registry-start registry-stop seed test demo bench lint check image

all: test

setup:
	scripts/setup-host.sh

# Copy the work tree to $(SRC) (owned by rbuild, readable by rbnosub) and install it in
# editable mode, only when pyproject.toml changed. "compat" mode puts $(SRC) on sys.path with a
# plain .pth line: the default mode's import hook cost every command 19 ms of start-up.
sync: setup
	install -d -o rbuild -g rbuild -m 0755 $(SRC)
	rsync -a --delete --chown=rbuild:rbuild --chmod=Du=rwx,Dgo=rx,Fu+rw,Fgo-w,Fgo+r \
		--exclude=/.git --filter='-p __pycache__' --exclude=.pytest_cache \
		--exclude='*.egg-info' --exclude=/venv --exclude=/.venv \
		--exclude=.mypy_cache --exclude=.ruff_cache --exclude=/build --exclude=/dist \
		./ $(SRC)/
	# The bench cases travel beside the copy (tests find them at $(OPT)/shared/bench-cases).
	if [ -d ../shared/bench-cases ]; then \
		install -d -o rbuild -g rbuild -m 0755 $(OPT)/shared; \
		rsync -a --delete --chown=rbuild:rbuild --chmod=Du=rwx,Dgo=rx,Fu+rw,Fgo-w,Fgo+r \
			../shared/bench-cases/ $(OPT)/shared/bench-cases/; \
	fi
	stamp=$(VENV)/.editable-compat-$$(sha256sum pyproject.toml | cut -c1-16); \
	if [ ! -e $$stamp ]; then \
		$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps \
			--no-build-isolation --config-settings editable_mode=compat -e $(SRC) </dev/null; \
		chown -R rbuild:rbuild $(SRC); \
		rm -f $(VENV)/.editable-*; touch $$stamp; \
	fi

# Base image tarballs, world-readable, built as root (debootstrap needs it) and cached.
testdata: setup
	install -d -m 0755 $(CACHE)
	scripts/make-busybox-rootfs.sh $(CACHE)/busybox.tar
	scripts/make-busybox-rootfs.sh $(CACHE)/busybox-arm64.tar arm64
	scripts/make-debian-rootfs.sh $(CACHE)/debian.tar

# The shared registry on localhost:$(REG_PORT), run by rbuild, seeded without our tool.
registry-start: sync
	$(AS_USER) scripts/test-registry.sh start $(REG_PORT)

registry-stop:
	$(AS_USER) scripts/test-registry.sh stop $(REG_PORT)

seed: registry-start testdata
	$(AS_USER) scripts/seed-registry.sh localhost:$(REG_PORT)

# All tests as rbuild except `nosubid` ones, then those as rbnosub (no subordinate ids).
# The registry is stopped whatever happens; the exit code is non-zero if anything failed.
test: setup sync testdata
	rc=0; \
	trap '$(AS_USER) scripts/test-registry.sh stop $(REG_PORT) >/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(AS_USER) scripts/test-registry.sh start $(REG_PORT); \
	$(AS_USER) scripts/seed-registry.sh localhost:$(REG_PORT) || rc=1; \
	echo "== tests as rbuild"; \
	$(call run_tests,$(AS_USER) $(PYTEST) -m "not nosubid" tests); \
	echo "== tests as rbnosub (no subordinate ids)"; \
	$(call run_tests,$(AS_USER) -u rbnosub $(PYTEST) -m nosubid tests); \
	exit $$rc

# Build testdata/hello as rbuild in rbuild's default store.
demo: setup sync testdata
	$(AS_USER) rootless-build import $(CACHE)/busybox.tar localhost:5000/busybox:latest
	$(AS_USER) rootless-build build -t hello:latest testdata/hello
	$(AS_USER) rootless-build images
	$(AS_USER) rootless-build inspect hello:latest
	$(AS_USER) rootless-build run --rm hello:latest

# The CI image of the tool (scripts/image), built by the tool as rbuild from the synced
# copy, FROM the test registry's debian (start it with `make seed`); IMAGE=name:tag.
IMAGE ?= rootless-build:latest
image: sync
	$(AS_USER) env PIP="$(VENV)/bin/python -m pip" scripts/image/build.sh $(IMAGE)

bench: setup sync testdata
	if [ -f scripts/bench/run.sh ]; then bash scripts/bench/run.sh; \
	else echo "no scripts/bench/run.sh yet"; fi

# The fast checks, before every commit: lint, types (a baseline that only shrinks) and the
# unit tests. Needs no root and no service; the venv comes from `make setup`.
check:
	@[ -x $(VENV)/bin/ruff ] || { echo "make check: no $(VENV) with ruff and mypy: run make setup (as root)" >&2; exit 1; }
	for f in scripts/*.sh scripts/as-user .ci/run; do bash -n $$f; done
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/python scripts/mypy-ratchet.py
	$(VENV)/bin/python -m pytest -p no:cacheprovider -q tests/unit

lint:
	for f in scripts/*.sh scripts/as-user .ci/run; do bash -n $$f; done
	/usr/bin/python3 -c 'import pathlib, sys; [compile(p.read_bytes(), str(p), "exec") \
		for d in ("rootless_build", "tests") for p in sorted(pathlib.Path(d).rglob("*.py"))]'
