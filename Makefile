# clpkit — build, test, benchmark, install and demo.
#
#   make demo       build, start a one-server cluster from examples/cluster.toml, print clpstat
#   make demo-stop  stop the demo clpd
#   make lab        two servers, a witness and a client in network namespaces (state in .lab), with a
#                   floating IP and a shared loop disk; prints what to try
#   make lab-cut    pull the cable of the lab server that runs failover1 (the other takes it over)
#   make lab-mend   plug the lab's cables back in
#   make lab-stop   stop the lab and remove it (namespaces, loop device, mounts, .lab)
#   make test       vet, gofmt check, staticcheck (when installed), every test
#   make bench      benchmarks against real clusters; ends with a results table
#   make trials     100 randomized fault trials per fault in network namespaces (about an hour)
#   make soak       10 minutes of CPU and fsync load on both lab servers, counting false failovers
#   make install    PREFIX=/usr/local DESTDIR= (binaries, man pages, systemd unit, examples)

GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=

# The test packages that run whole clusters; make test runs them one at a time.
CLUSTER_TESTS = integration|ladder|seedsamba|seed000|trials

# Every folder of cmd/ with a main.go is a command.
CMDS := $(patsubst cmd/%/main.go,%,$(wildcard cmd/*/main.go))

SBINDIR     = $(DESTDIR)$(PREFIX)/sbin
MAN8DIR     = $(DESTDIR)$(PREFIX)/share/man/man8
UNITDIR     = $(DESTDIR)/lib/systemd/system
EXAMPLESDIR = $(DESTDIR)$(PREFIX)/share/clpkit/examples
STATICCHECK = $(shell $(GO) env GOPATH | cut -d: -f1)/bin/staticcheck

# The demo runs bin/clpd in the background with the default paths (/var/lib/clpkit,
# /var/log/clpkit, /run/clpkit), so plain `bin/clpstat` reaches it. It needs root.
DEMO_DIR    = .demo
DEMO_PID    = $(DEMO_DIR)/clpd.pid
DEMO_LOG    = $(DEMO_DIR)/clpd.log
DEMO_CONFIG = examples/cluster.toml
DEMO_GROUP  = failover1

# `demo_running` succeeds when the pid file names a live clpd (not a zombie, not a reused pid).
# It sets $$pid.
demo_running = { pid=$$(cat $(DEMO_PID) 2>/dev/null) && [ -n "$$pid" ] && \
	[ "$$(cat /proc/$$pid/comm 2>/dev/null)" = clpd ] && \
	[ "$$(sed 's/.*) //' /proc/$$pid/stat 2>/dev/null | cut -c1)" != Z ]; }

.PHONY: all build test bench trials soak install install-sbin-links demo demo-stop clean lab lab-cut lab-mend lab-stop

all: build

build:
	$(GO) build -trimpath -o bin/ ./cmd/...

TESTLOG = $(or $(TMPDIR),/tmp)/clpkit-testlog

test:
	$(GO) vet ./...
	@echo "gofmt -l ."
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):"; \
		echo "$$unformatted"; exit 1; fi
	@if [ -x "$(STATICCHECK)" ]; then \
		echo "$(STATICCHECK) ./..."; "$(STATICCHECK)" ./...; \
	else \
		echo "staticcheck: skipped, $(STATICCHECK) is not installed (go install honnef.co/go/tools/cmd/staticcheck@latest)"; \
	fi
	@# The packages that run whole clusters (real clpd, etcd, namespaces) run one at a time, after
	@# the others: run side by side on two cores they starve each other's lease renewals into
	@# fences that are right to happen but not what those tests test.
	@# Progress, package by package, with every skip and its reason (internal/testlog reads go
	@# test -json and fails when a test did).
	$(GO) build -o $(TESTLOG) ./internal/testlog
	$(GO) test -json -count=1 -timeout 40m $$($(GO) list ./... | grep -v -E '/test/($(CLUSTER_TESTS))$$') | $(TESTLOG)
	$(GO) test -json -count=1 -p 1 -timeout 60m $(patsubst %,./test/%/,$(subst |, ,$(CLUSTER_TESTS))) | $(TESTLOG)

# Each benchmark starts its own real cluster and takes its own samples (see bench/bench_test.go),
# so it runs once; the results table is printed at the end.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

# The fault trials of `make test` (10 per fault), a hundred times over; each prints its takeover
# and fencing-margin figures. TRIALS=n and SEED=n change them.
TRIALS ?= 100
SEED   ?= 0
trials:
	$(GO) test -count=1 -v -timeout 4h -run '^TestTrial' ./test/trials/ -args -trials $(TRIALS) -seed $(SEED)

SOAK ?= 10m
soak:
	$(GO) test -count=1 -v -timeout 1h -run '^TestSoak$$' ./test/trials/ -args -soak $(SOAK)

install: build
	install -d $(SBINDIR) $(MAN8DIR) $(EXAMPLESDIR)
	install -m 0755 $(addprefix bin/,$(CMDS)) $(SBINDIR)/
	$(if $(wildcard man/*.8),install -m 0644 $(wildcard man/*.8) $(MAN8DIR)/)
	@if [ -f packaging/clpd.service ]; then \
		echo "install packaging/clpd.service $(UNITDIR)/ (ExecStart from $(PREFIX)/sbin)"; \
		install -d $(UNITDIR) && \
		sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' packaging/clpd.service > $(UNITDIR)/clpd.service && \
		chmod 0644 $(UNITDIR)/clpd.service; \
	fi
	cp -R examples/. $(EXAMPLESDIR)/
	install -d $(DESTDIR)/etc/logrotate.d
	install -m 0644 packaging/clpkit.logrotate $(DESTDIR)/etc/logrotate.d/clpkit
	@$(MAKE) --no-print-directory install-sbin-links

# Scripts call /usr/sbin/clplogcmd and friends by absolute path: link them there when the
# commands are installed elsewhere. An existing file that is not a link is left alone.
install-sbin-links:
	@if [ "$(PREFIX)" = /usr ] || [ "$(PREFIX)" = /usr/ ]; then \
		echo "install-sbin-links: PREFIX is /usr, the commands are in /usr/sbin already"; exit 0; fi; \
	install -d $(DESTDIR)/usr/sbin || exit 1; \
	for c in $(CMDS); do \
		link=$(DESTDIR)/usr/sbin/$$c; \
		if [ -e "$$link" ] && [ ! -L "$$link" ]; then \
			echo "warning: $$link exists and is not a symbolic link; not replaced" >&2; continue; fi; \
		ln -sfn $(PREFIX)/sbin/$$c "$$link" && echo "$$link -> $(PREFIX)/sbin/$$c" || exit 1; \
	done

demo: build
	@mkdir -p $(DEMO_DIR)
	@if $(demo_running); then \
		echo "demo: clpd is already running (pid $$pid, log $(DEMO_LOG)); 'make demo-stop' stops it" >&2; exit 1; fi
	@if bin/clpstat >/dev/null 2>&1; then \
		echo "demo: a clpd not started by 'make demo' already answers on /run/clpkit/clpd.sock; stop it first" >&2; exit 1; fi
	@rm -f $(DEMO_PID)
	@echo "starting bin/clpd -c $(DEMO_CONFIG) in the background (log $(DEMO_LOG), pid in $(DEMO_PID))"
	@setsid bin/clpd -c $(DEMO_CONFIG) >$(DEMO_LOG) 2>&1 </dev/null & echo $$! >$(DEMO_PID)
	@echo "waiting up to 30 s for clpd to answer clpstat"
	@i=0; until bin/clpstat >/dev/null 2>&1; do \
		if ! $(demo_running); then \
			echo "demo: clpd exited at start-up; the end of $(DEMO_LOG):" >&2; \
			tail -n 20 $(DEMO_LOG) >&2; rm -f $(DEMO_PID); exit 1; fi; \
		i=$$((i + 1)); \
		if [ $$i -ge 150 ]; then \
			echo "demo: clpd did not answer within 30 s; the end of $(DEMO_LOG):" >&2; \
			tail -n 20 $(DEMO_LOG) >&2; exit 1; fi; \
		sleep 0.2; \
	done
	bin/clpgrp -s $(DEMO_GROUP)
	bin/clpstat
	@echo "try: kill \$$(cat /run/clpkit/service1.pid)   # pidw1 restarts service1; kill it again and the group stops"
	@echo "     bin/clpstat -m; bin/clpmonctrl -v; tail /var/log/clpkit/alert.log"

demo-stop:
	@if ! $(demo_running); then \
		echo "demo-stop: no demo clpd is running"; rm -f $(DEMO_PID); exit 0; fi; \
	echo "demo-stop: sending SIGTERM to clpd (pid $$pid); it stops its groups, then exits"; \
	kill -TERM $$pid; \
	i=0; while $(demo_running); do \
		i=$$((i + 1)); \
		if [ $$((i % 50)) -eq 0 ]; then echo "demo-stop: still waiting for clpd (pid $$pid) to exit"; fi; \
		sleep 0.2; \
	done; \
	rm -f $(DEMO_PID); echo "demo-stop: clpd has exited"

clean:
	rm -rf bin
	@if $(demo_running); then \
		echo "clean: the demo clpd is running, $(DEMO_DIR) kept ('make demo-stop' first)"; \
	else rm -rf $(DEMO_DIR); fi

# The lab (test/netlab/cmd/clplab): bin/clplab up/cut/mend/down .lab. It needs root, ip, nsenter,
# losetup and mkfs.ext4, and says which is missing.
lab: build
	@$(GO) build -trimpath -o bin/clplab ./test/netlab/cmd/clplab
	@bin/clplab up .lab

lab-cut:
	@$(GO) build -trimpath -o bin/clplab ./test/netlab/cmd/clplab
	@bin/clplab cut .lab

lab-mend:
	@$(GO) build -trimpath -o bin/clplab ./test/netlab/cmd/clplab
	@bin/clplab mend .lab

lab-stop:
	@$(GO) build -trimpath -o bin/clplab ./test/netlab/cmd/clplab
	@bin/clplab down .lab
