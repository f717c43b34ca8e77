# bench/lib_poll.sh: waiting for a Coffer run or recovery to end, for the benches that drive the
# REST API; sourced by them, not run. The caller defines api METHOD PATH [BODY] (curl with its key).
#
# The benches time Coffer to the end the daemon records (endTimeUsecs), so how often they poll does
# not change a figure; but the polling runs on the same two cores as the daemon it measures. A curl
# and a jq every 20-100 ms took about 15% of the machine during a first backup (perf -a: jq 9%,
# bash 4%, curl 4%), time the peers' runs never lose. So a poll is one curl and a bash match, every
# BENCH_POLL_S seconds; jq reads the document only once the match says it has ended. Polling every
# 0.25 s still took 2.3% of the machine during a 5.58 s first backup (perf -a --sort comm, threads
# named: curl 1.54%, bash 0.46%, date 0.18%, jq 0.15%), so the default is 1 s: a phase's figure is
# the same, the bench only notices its end up to a second later.
BENCH_POLL_S=${BENCH_POLL_S:-1}

# bench_wait_end PATH [MAX_S]: GETs PATH (a run list with numRuns=1, or a recovery) until its status
# is final, at most MAX_S seconds (default 3600); prints the last document.
bench_wait_end() {
  local doc s t_end=$(( $(date +%s) + ${2:-3600} ))
  while :; do
    doc=$(api GET "$1")
    if [[ $doc =~ \"status\":\"(Succeeded|SucceededWithWarning|Failed|Canceled)\" ]]; then
      s=$(printf '%s' "$doc" | jq -r '(.runs[0].localBackupInfo.status // .status) // empty')
      case "$s" in Succeeded|SucceededWithWarning|Failed|Canceled) break;; esac
    fi
    [ "$(date +%s)" -lt "$t_end" ] || { echo "bench: $1 did not end within ${2:-3600} s" >&2; break; }
    sleep "$BENCH_POLL_S"
  done
  printf '%s\n' "$doc"
}

# bench_status DOC: the status of a run list's first run or of a recovery.
bench_status() { printf '%s' "$1" | jq -r '(.runs[0].localBackupInfo.status // .status) // empty'; }

# bench_end_s T0 DOC: seconds from T0 (date +%s.%N) to the end the daemon recorded in DOC
# (endTimeUsecs), or to now when DOC has none.
bench_end_s() {
  local e; e=$(printf '%s' "$2" | jq -r '(.runs[0].localBackupInfo.endTimeUsecs // .endTimeUsecs) // empty')
  if [ -n "$e" ]; then echo "$e / 1000000 - $1" | bc -l | xargs printf '%.2f'
  else echo "$(date +%s.%N) - $1" | bc -l | xargs printf '%.2f'; fi
}
