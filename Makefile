# ebguard build. `make deps` once on a fresh Debian 12 machine, then `make`.
SHELL := /bin/bash
SWIFT ?= swift
CLANG ?= clang
BPFTOOL ?= bpftool
CONFIG ?= release

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h bpf/lib/*.h)
BPF_OBJS := $(patsubst bpf/%.bpf.c,build/bpf/%.bpf.o,$(BPF_SRCS))
EMBEDDED := Sources/CEbguardObjects/objects.c
SWIFT_SRCS := $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h' | grep -v objects.c) Package.swift
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -Ibpf

DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev libyaml-dev clang llvm bpftool pkg-config \
	qemu-system-x86 busybox-static cpio iproute2 util-linux procps \
	git gcc make python3 python3-pip python3-setuptools python3-wheel

# The audit forwarding tests start a real rsyslogd (TLS through its openssl driver) and make certificates.
DEB_PACKAGES += rsyslog rsyslog-openssl openssl
# The interactive prompt is tested in a real terminal; the benchmarks compare with a ptrace
# tracer and a namespace sandbox.
DEB_PACKAGES += tmux strace bubblewrap
# `make deb` and its test: debhelper, lintian, pandoc (ebguard-policy(5) from docs/policy.md),
# debootstrap (the fresh Debian root the package is installed into).
DEB_PACKAGES += debhelper lintian pandoc debootstrap
# The resolver for host-name rules is tested against a real upstream DNS server (dnsmasq, started
# by the tests on a loopback address) and queried with dig; curl is the client that resolves
# through glibc on its own threads (HostEgressTests), absent from a minimal Debian.
DEB_PACKAGES += dnsmasq-base bind9-dnsutils curl

# The audit tests validate exported OCSF events, OTLP bodies and syslog frames with independent
# parsers and schemas (Tests/EbguardAuditTests/Fixtures/audit_validate.py), installed for the
# python3 the tests call (Debian 12's python3 is "externally managed": pip needs to be told).
PIP_PACKAGES := jsonschema ocsf-json-schema==1.2.0 opentelemetry-proto syslog-rfc5424-parser

.PHONY: all bpf deps test test-unit test-host test-vm demo clean
all: bin/ebguard

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all installed"; fi
	@# agent.yaml's workload test (AgentPolicyVMTests) runs npm, cargo and gradle, which may come
	@# from elsewhere (NodeSource's nodejs bundles npm; rustup's cargo is in ~/.cargo): Debian's
	@# packages are installed only when the command is missing.
	@tools=""; command -v npm >/dev/null || tools="nodejs npm"; \
	command -v gradle >/dev/null || tools="$$tools gradle"; \
	command -v cargo >/dev/null || ls -d $$HOME/.rustup/toolchains/*/bin/cargo >/dev/null 2>&1 || tools="$$tools cargo"; \
	if [ -n "$$tools" ]; then echo "installing:$$tools"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$tools >/dev/null; fi
	@python3 -c 'import jsonschema, ocsf_json_schema, syslog_rfc5424_parser, google.protobuf, opentelemetry.proto' 2>/dev/null || \
		PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore $(PIP_PACKAGES)

# Each program is compiled alone, then passed through the libbpf linker, which
# keeps BTF and drops DWARF: smaller embedded objects, same CO-RE relocations.
build/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPFTOOL) gen object $@ $@.tmp >/dev/null
	@rm -f $@.tmp

bpf: $(BPF_OBJS)

$(EMBEDDED): $(BPF_OBJS) scripts/embed-bpf
	scripts/embed-bpf $@ $(BPF_OBJS)

# The shipped binary links the Swift runtime statically, which makes its objects unfit for the
# dynamically linked test build: it gets a build folder of its own.
STATIC_BUILD := .build-static
# `ebguard --version` names the commit: this file is checked on every make and rewritten only when
# the commit changes (scripts/build-commit), so only then does the binary relink.
BUILD_COMMIT := Sources/ebguard/BuildCommit.generated.swift
$(BUILD_COMMIT): FORCE
	@scripts/build-commit $@
.PHONY: FORCE
FORCE:
bin/ebguard: $(EMBEDDED) $(SWIFT_SRCS) $(BUILD_COMMIT)
	$(SWIFT) build -c $(CONFIG) --static-swift-stdlib --scratch-path $(STATIC_BUILD) --product ebguard
	@mkdir -p bin
	cp "$$($(SWIFT) build -c $(CONFIG) --static-swift-stdlib --scratch-path $(STATIC_BUILD) --show-bin-path)/ebguard" bin/ebguard

# Tests: unit tests unprivileged; privileged host tests, the BPF-LSM VM tests and the Debian
# package's install test (scripts/test-deb, on the package `deb` builds) as root.
test: deps bin/ebguard deb
	scripts/run-tests

# The main job, end to end. Exec/file enforcement needs BPF-LSM: where this kernel refuses
# it (see `ebguard doctor`), the demo runs inside the VM and says so.
demo: deps bin/ebguard
	scripts/demo

# Benchmarks (docs/benchmarks.md): `bench` is the full run (under 15 min; writes docs/benchmarks.md
# and bench/results.json), `bench-smoke` a minimal one that keeps the harness from rotting.
.PHONY: bench bench-smoke
bench bench-smoke: deps bin/ebguard
	python3 bench/bench.py --profile $(if $(filter bench-smoke,$@),smoke,full)

# Installation: the binary, the systemd unit, the shipped policies under /etc/ebguard.
# Never rebuilds (it may run where the tree is read-only): run `make` first. Existing files
# under /etc/ebguard are kept; `make uninstall` removes what install put and leaves the
# configuration, the audit log and running sessions alone.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
.PHONY: install uninstall
install:
	@test -x bin/ebguard || { echo "bin/ebguard is not built: run make first" >&2; exit 1; }
	install -D -m 0755 bin/ebguard $(DESTDIR)$(BINDIR)/ebguard
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/ebguard.service > $(DESTDIR)$(UNITDIR)/ebguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ebguard.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ebguard/policies $(DESTDIR)$(SYSCONFDIR)/ebguard/overlays
	@for policy in policies/*.yaml; do \
		target=$(DESTDIR)$(SYSCONFDIR)/ebguard/policies/$$(basename $$policy); \
		if [ -e $$target ]; then echo "kept $$target"; else install -m 0644 $$policy $$target; fi; \
	done
	@if [ -e packaging/ebguard.yaml ] && [ ! -e $(DESTDIR)$(SYSCONFDIR)/ebguard/ebguard.yaml ]; then \
		install -m 0644 packaging/ebguard.yaml $(DESTDIR)$(SYSCONFDIR)/ebguard/ebguard.yaml; fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "installed; start with: systemctl enable --now ebguard"

uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable --now ebguard 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(BINDIR)/ebguard $(DESTDIR)$(UNITDIR)/ebguard.service
	@for policy in policies/*.yaml; do \
		target=$(DESTDIR)$(SYSCONFDIR)/ebguard/policies/$$(basename $$policy); \
		if [ -e $$target ] && cmp -s $$policy $$target; then rm -f $$target; else [ -e $$target ] && echo "kept modified $$target"; fi; \
	done; true
	-rmdir $(DESTDIR)$(SYSCONFDIR)/ebguard/policies $(DESTDIR)$(SYSCONFDIR)/ebguard/overlays 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "uninstalled; kept $(SYSCONFDIR)/ebguard/ebguard.yaml and /var/log/ebguard if present"

# The Debian package (packaging/README.md): debian/ with debhelper, around the binary `make` built.
# Never cleans or rebuilds the shared build folders (-nc; debian/rules overrides the clean and
# build steps); the .deb, its -dbgsym and the .changes go to build/deb/. The manual pages and
# completions are generated from bin/ebguard by packaging/gen-docs, with swift-argument-parser's
# own generate-manual tool (built once from the checkout SwiftPM resolved).
DEB_DIR := build/deb
DEB_GEN := $(DEB_DIR)/gen
MANUAL_TOOL := $(DEB_DIR)/tools/debug/generate-manual
.PHONY: deb
$(MANUAL_TOOL): | bin/ebguard
	$(SWIFT) build --package-path $(STATIC_BUILD)/checkouts/swift-argument-parser \
		--scratch-path $(DEB_DIR)/tools --product generate-manual
$(DEB_GEN)/stamp: bin/ebguard $(MANUAL_TOOL) docs/policy.md packaging/gen-docs debian/changelog
	packaging/gen-docs bin/ebguard $(MANUAL_TOOL) $(DEB_GEN)
	@touch $@
deb: $(DEB_GEN)/stamp
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	v=$$(dpkg-parsechangelog -S Version); dpkg-buildpackage -b -us -uc -nc \
		--buildinfo-file=$(DEB_DIR)/ebguard_$${v}_amd64.buildinfo --buildinfo-option=-u$(DEB_DIR) \
		--changes-file=$(DEB_DIR)/ebguard_$${v}_amd64.changes --changes-option=-u$(DEB_DIR)
	@ls -l $(DEB_DIR)/*.deb

clean:
	rm -rf build bin .build $(STATIC_BUILD) $(EMBEDDED)
