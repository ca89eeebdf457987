#!/usr/bin/env bash
# The whole test suite: C examples as tests, Swift tests, the same tests under
# ThreadSanitizer, the threaded suites under AddressSanitizer, a 10-second load
# test that must hold its invariants, and the benchmark malloc gate.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

step() { printf '\n=== [%s, %ss in] %s\n' "$(date -u +%T)" "$SECONDS" "$*"; }

step "the C library through CMake: libredline_core static and shared, the examples (C; C++17, 20, 23), install, pkg-config"
scripts/cmake-check.sh
# The same sources as objects, for the C tests below (gcc -Wall -Wextra -Werror).
objects=$(mktemp -d)
trap 'rm -rf "$objects"' EXIT
for f in CSources/RedlineCore/rl_*.c; do
    cc -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include -c "$f" -o "$objects/$(basename "$f").o"
done

# Tests/C/NAME.c linked against the objects above, into $objects/NAME; and
# the same under ThreadSanitizer (from the sources), into $objects/NAME_tsan.
c_test() {
    cc -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE -ICSources/RedlineCore/include "Tests/C/$1.c" \
        "$objects"/rl_*.o -luring -lnuma -lpthread -lm -o "$objects/$1"
}
c_test_tsan() { # NAME [extra compiler flags]
    gcc -std=c11 -O1 -g -fsanitize=thread -D_GNU_SOURCE "${@:2}" -ICSources/RedlineCore/include "Tests/C/$1.c" \
        CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/$1_tsan"
}

step "deterministic interleavings (the legacy table must break, the engine must not)"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include -ITests/C \
    Tests/C/interleavings.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/interleavings"
"$objects/interleavings"

step "races at the limits: 2, 4 and 8 checkers, one symbol and four (a short run; scripts/soak.sh runs 10^8)"
c_test boundary_races
for threads in 2 4 8; do
    for symbols in 1 4; do "$objects/boundary_races" "$threads" "$symbols" 400000; done
done
c_test_tsan boundary_races
for threads in 2 4; do TSAN_OPTIONS=halt_on_error=1 "$objects/boundary_races_tsan" "$threads" 2 100000 7 nodetect; done

step "races for the last place under a symbol's working-order cap (2, 4 and 8 checkers; and under ThreadSanitizer)"
c_test working_cap_races
for threads in 2 4 8; do "$objects/working_cap_races" "$threads" 3 200000; done
c_test_tsan working_cap_races
TSAN_OPTIONS=halt_on_error=1 "$objects/working_cap_races_tsan" 4 2 50000

step "a publish of the rules racing checks while volatility scaling narrows a collar"
c_test collar_publish_race
"$objects/collar_publish_race"

step "batch pushes into a ring a consumer is reading (and under ThreadSanitizer)"
c_test spsc_batch
"$objects/spsc_batch"
c_test_tsan spsc_batch
TSAN_OPTIONS=halt_on_error=1 "$objects/spsc_batch_tsan"

step "lanes: a freeze on a lane overtakes a backlog of order events (and under ThreadSanitizer)"
c_test lanes
"$objects/lanes"
c_test_tsan lanes
TSAN_OPTIONS=halt_on_error=1 "$objects/lanes_tsan"

step "a request its requester withdrew never applies: withdrawals race the risk side's take (and under ThreadSanitizer)"
c_test request_withdraw
"$objects/request_withdraw"
c_test_tsan request_withdraw
TSAN_OPTIONS=halt_on_error=1 "$objects/request_withdraw_tsan" 50000

step "the halt request's OR on the book word's half is atomic with the pair's 16-byte CAS (a lost update fails)"
c_test pair_mixed_width
"$objects/pair_mixed_width" 5000000

step "halts from any thread (rl_engine_halt_now, and an unrecordable fill's) racing raising checks and the controller (and under ThreadSanitizer)"
cc -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
    Tests/C/outside_halt.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/outside_halt"
for halters in 1 2 4; do "$objects/outside_halt" "$halters" 2 1500; done
"$objects/outside_halt" 2 2 1500 mixed # an edge collapse and an unrecordable fill's halt
c_test_tsan outside_halt -DRL_TEST_HOOKS
TSAN_OPTIONS=halt_on_error=1 "$objects/outside_halt_tsan" 2 2 1500
TSAN_OPTIONS=halt_on_error=1 "$objects/outside_halt_tsan" 2 2 1500 mixed
cc -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
    Tests/C/outside_halt_cases.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/outside_halt_cases"
"$objects/outside_halt_cases"
c_test_tsan outside_halt_cases -DRL_TEST_HOOKS
TSAN_OPTIONS=halt_on_error=1 "$objects/outside_halt_cases_tsan" kill_switch_pull_recorded 1000
TSAN_OPTIONS=halt_on_error=1 "$objects/outside_halt_cases_tsan" pull_during_a_bounded_unfreeze 20000

step "the journal on a disk that fills and empties, one whose syncs fail and one whose sync stalls (a wait times out naming the commit; an engine on it halts past the stall bound and refuses an unfreeze until the sync returns), with pwrite and with io_uring (fallocate, fdatasync and the io_uring fsync failing or stalling on demand)"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -Dfallocate=rl_test_fallocate -Dfdatasync=rl_test_fdatasync \
    -ICSources/RedlineCore/include \
    Tests/C/journal_full_disk.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_full_disk"
"$objects/journal_full_disk" "$objects/journal-full-disk"

step "journal spare segments on a nearly full disk (fallocate refused past a quota), a refused second open, and options the writer cannot honour refused"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -Dfallocate=rl_test_fallocate -ICSources/RedlineCore/include \
    Tests/C/journal_spare_quota.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_spare_quota"
"$objects/journal_spare_quota" "$objects/journal-spare-quota"

step "journal direct commits refused or cut short (O_DIRECT writes failing, half written, or on a read-only descriptor), in both I/O modes"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -Dpwrite=rl_test_pwrite -Dopen=rl_test_open -ICSources/RedlineCore/include \
    Tests/C/journal_direct_fallback.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_direct_fallback"
"$objects/journal_direct_fallback" "$objects/journal-direct-fallback"

step "journal options the writer cannot honour refused before the lock, and the writer pinned where asked, whatever its opener's affinity"
c_test journal_options
"$objects/journal_options" "$objects/journal-options"

step "a cold record's ticket survives the writer freeing the record before its append returns (once read back from freed memory: a 10 s wait for a ticket never issued)"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
    Tests/C/journal_cold_ticket.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_cold_ticket"
"$objects/journal_cold_ticket" "$objects/journal-cold-ticket"
c_test_tsan journal_cold_ticket -DRL_TEST_HOOKS
TSAN_OPTIONS=halt_on_error=1 "$objects/journal_cold_ticket_tsan" "$objects/journal-cold-ticket-tsan"

step "a record the writer retries (its shadow's open-order table could not grow: ENOMEM) is applied to the shadow once: once replayed twice, every later snapshot held its reservation twice"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include -ITests/C \
    Tests/C/journal_shadow_retry.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_shadow_retry"
"$objects/journal_shadow_retry" "$objects/journal-shadow-retry"

step "segments recycled without zeros: an earlier life's records (another salt) are never read, never a torn tail, never hide damage; version 1 segments read as ever"
c_test journal_recycled_segments
"$objects/journal_recycled_segments" "$objects/journal-recycled-segments"

step "a power loss mid-commit (format version 3): every set of the last commit's sectors kept reads as an exact prefix that keeps every synced record and names what it drops, never refused; damage before a later commit still refused; reopened, it goes on and scans clean"
c_test journal_torn_commit
"$objects/journal_torn_commit" "$objects/journal-torn-commit"

step "the MANIFEST's two copies: a rewrite cut short leaves one whole, damage to one copy loses nothing (a lost newest segment still refused), both damaged is refused, the one-copy format is read and replaced"
c_test journal_manifest
"$objects/journal_manifest" "$objects/journal-manifest"

step "an open that recovers to last good syncs the directory after setting later segments aside, before any new record is durable"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -ICSources/RedlineCore/include -ITests/C \
    -Wl,--wrap=renameat2,--wrap=rename,--wrap=fsync \
    Tests/C/journal_set_aside_sync.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_set_aside_sync"
"$objects/journal_set_aside_sync" "$objects/journal-set-aside-sync"

step "each io_uring commit counts only its own completions: a wait cut short by EINTR is waited through, a failed wait's completions are reaped before anything is written again, and a submit taken in half or refused leaves NOPs, never a hang or a stale write (direct and buffered); a ring that never settles fails closed and keeps the journal locked"
cc -std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -DRL_TEST_HOOKS -ICSources/RedlineCore/include \
    -Wl,--wrap=io_uring_submit_and_wait \
    Tests/C/journal_uring_completions.c CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$objects/journal_uring_completions"
"$objects/journal_uring_completions" "$objects/journal-uring-completions"
c_test_tsan journal_uring_completions -DRL_TEST_HOOKS -Wl,--wrap=io_uring_submit_and_wait
TSAN_OPTIONS=halt_on_error=1 "$objects/journal_uring_completions_tsan" "$objects/journal-uring-completions-tsan"

step "instruction gate (callgrind): check, reserve, reserve reducing, ring push+pop, and with every order rule on (<= 2x)"
scripts/instruction-gate.sh

# The model check runs on one core (about 9 minutes) while the builds below
# take the machine; nothing timing-sensitive runs beside it.
step "model check of the reservation protocol and of the halt (spin), in the background while the Swift builds run"
scripts/model-check.sh >"$objects/model-check.log" 2>&1 &
model_check=$!
trap 'kill "$model_check" 2>/dev/null || true; rm -rf "$objects"' EXIT

step "builds: debug with tests, ThreadSanitizer, AddressSanitizer, release, benchmarks"
swift build --build-tests
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
swift build --build-tests --sanitize=address --scratch-path .build-asan
swift build -c release --product redline
(cd Benchmarks && swift build -c release --product RedlineBenchmarks && swift build --product BenchmarkTool) 2>&1 \
    | grep -vE '^\[[0-9]+/[0-9]+\]'

step "model check: the result"
if wait "$model_check"; then model_status=0; else model_status=$?; fi
cat "$objects/model-check.log"
if [ "$model_status" -ne 0 ]; then
    echo "model check: FAILED (exit $model_status)" >&2
    exit 1
fi

step "swift test"
swift test --skip-build 2>&1 | tee "$objects/swift-test.log"

step "swift test --sanitize=thread"
# The SIGKILL crash test spawns 50 children; its threads are covered by the runtime suites.
swift test --skip-build --sanitize=thread --scratch-path .build-tsan --skip JournalCrashTests

step "swift test --sanitize=address (risk thread, rings, stress)"
# ASan reports leaks inside XCTest itself; leak checking stays off.
ASAN_OPTIONS=detect_leaks=0 swift test --skip-build --sanitize=address --scratch-path .build-asan \
    --filter 'RuntimeTests|ReservationStressTests|SpscRing|JournalTests|JournalCorruptionTests'

step "release load test: invariants (exit code), not speed"
.build/release/redline loadtest --duration 5 --edge-collapse-at 4.5 --json "$objects/loadtest.json"
.build/release/redline loadtest --duration 3 --rules all
# 100 freezes idle, then 100 under the full load, each lifted by an operator: invariants hold throughout.
.build/release/redline loadtest --duration 4 --freezes 100
.build/release/redline loadtest --duration 2 --rate 200000 --journal "$objects/journal"
.build/release/redline journal inspect "$objects/journal"

step "operations end to end: redline serve, a real Prometheus, promtool (metrics, rules, rule tests), redline ctl, the dashboard"
scripts/ops-e2e.sh .build/release/redline

step "benchmark malloc gate (thresholds check, mallocCountTotal)"
set +e
output=$(cd Benchmarks && swift package benchmark thresholds check --target RedlineBenchmarks --metric mallocCountTotal --no-progress 2>&1)
status=$?
set -e
echo "$output" | grep -vE '^\[[0-9]+/[0-9]+\]'
if [ "$status" -ne 0 ]; then
    # thresholds check exits non-zero for an improvement too; only a regression
    # (or a failure to build or run) fails CI.
    if echo "$output" | grep -qE "WORSE than the defined thresholds|benchmarkThresholdRegression" \
        || ! echo "$output" | grep -qE "BETTER than the defined thresholds|benchmarkThresholdImprovement"; then
        echo "malloc gate: FAILED (exit $status)" >&2
        exit 1
    fi
    echo "malloc gate: better than the committed thresholds; update them with 'thresholds update'"
fi
echo "malloc gate: ok"

# One closing line for CI: the XCTest totals of the plain run.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with " "$objects/swift-test.log" | tail -1)
executed=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
skipped=$(echo "$summary" | grep -oE '[0-9]+ tests? skipped' | grep -oE '^[0-9]+' || echo 0)
echo "tests: $((executed - failed - skipped)) passed, $failed failed, $skipped skipped"
echo "suite time: ${SECONDS}s"
