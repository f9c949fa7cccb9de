# cryptoml: PGXS build of the extension, plus the project's entry points.
#   make demo   set everything up and run the main job (see README.md)
#   make demo-cluster   the PL/Proxy scale-out: a router and three nodes on this machine
#   make test   every test: C++ unit tests, pg_regress, pgTAP, against a throwaway cluster
#   make load   load ../shared/data candles (or generated ones) into the demo cluster
EXTENSION   = cryptoml
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big  = cryptoml
OBJS        = $(patsubst %.cpp,%.o,$(sort $(wildcard src/pg/*.cpp src/core/*.cpp)))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
# the router extension (cryptoml_router, SQL only, docs/scale-out.md) installs beside it: its control
# file and scripts are plain files of share/extension
DATA        = $(wildcard extension/$(EXTENSION)--*.sql) cryptoml_router.control $(wildcard extension/cryptoml_router--*.sql)
REGRESS     = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.
# Isolation specs (specs/*.spec) run after the regression tests, in their database: cryptoml
# requires pg_cron, which lives in cron.database_name only.
ISOLATION   = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --inputdir=. --use-existing
EXTRA_CLEAN = build build-test results regression.diffs regression.out output_iso

PG_CONFIG  ?= pg_config
PG_CPPFLAGS = -Isrc/core -Isrc/pg -I/usr/include/eigen3
PG_CXXFLAGS = -std=c++17 -Wno-register -fvisibility-inlines-hidden
SHLIB_LINK  = -lxgboost -lcurl -lz -lstdc++
# clang would try to emit LLVM bitcode for the .cpp files
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
ISOLATION_TESTDB = contrib_regression

$(EXTENSION)--$(EXTVERSION).sql: extension/$(EXTENSION).sql $(EXTENSION).control
	cp $< $@

$(OBJS): $(wildcard src/core/*.hpp src/pg/*.hpp)
# The LSTM network a second time for CPUs with AVX2+FMA, chosen at run time (docs/lstm.md "CPU
# kernels"); the rest of the extension stays at the x86-64 baseline. CMakeLists.txt does the same.
ifneq ($(filter x86_64 amd64,$(shell uname -m)),)
src/core/lstm_avx2.o: override CXXFLAGS += -mavx2 -mfma
endif

.PHONY: deps demo demo-cluster test stop psql start unit load fuzz dashboard backup-setup backup restore
deps:
	bash scripts/deps.sh
demo:
	bash scripts/demo.sh
# A router and three nodes on this machine (docs/scale-out.md), in a few minutes; prints every command.
demo-cluster:
	bash scripts/demo_cluster.sh
test:
	bash scripts/test.sh
start:
	bash scripts/cluster.sh start demo
stop:
	bash scripts/cluster.sh stop demo
psql:
	bash scripts/cluster.sh psql demo
load:
	bash scripts/load.sh demo
unit:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j2 && cd build && ctest --output-on-failure
# libFuzzer targets of fuzz/ (clang, ASan+UBSan), FUZZ_SECONDS (default 60) each; not part of test.
fuzz:
	bash scripts/deps.sh fuzz && bash fuzz/build.sh && bash fuzz/run.sh $(FUZZ_SECONDS)
# The demo cluster's dashboard as one HTML page (path printed).
dashboard:
	bash scripts/dashboard.sh
# pgBackRest (docs/disaster-recovery.md): repository in .pg/demo/pgbackrest, WAL archiving, stanza.
backup-setup:
	bash scripts/backup.sh setup demo
# A full backup when none is recent (7 days), a differential otherwise; what the 6-hourly schedule runs.
backup:
	bash scripts/backup.sh backup demo auto
# Point-in-time restore of the demo cluster into a new cluster (demo_restored), e.g. make restore TARGET='2026-12-07 14:30:00+00'
restore:
	@test -n "$(TARGET)" || { echo "usage: make restore TARGET='2026-12-07 14:30:00+00'" >&2; exit 2; }
	bash scripts/backup.sh restore demo "$(TARGET)"
