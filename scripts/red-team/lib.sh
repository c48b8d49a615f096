# The red-team case library (sourced by scripts/red-team.sh). A case is one of:
#
#   rt_exit NAME CODE REGEX -- COMMAND...   passes when COMMAND exits CODE within 120 s and its stderr
#                                           matches REGEX (grep -E; "" matches anything)
#   rt_scenario NAME FUNCTION               passes when FUNCTION returns 0 (it explains a failure on
#                                           stderr); for signals, faults and concurrency
#
# Each case runs in a fresh directory $RT_DIR (cwd too); $RM is the binary, $ROOT the source tree,
# $Q the default config (configs/quadratic.toml) and `rt_mpi NP ARGS...` runs `mpirun ... train ARGS`
# as root, oversubscribed. After a case, $RT_RC, $RT_OUT and $RT_ERR hold its exit code and the files
# of its stdout and stderr.
RT_PASSED=0
RT_FAILED=0
RT_FAILURES=()
export Q=$ROOT/configs/quadratic.toml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
rt_case_counter=0

rt_mpi() {
  local np=$1
  shift
  mpirun --oversubscribe -np "$np" "$RM" train "$@"
}

rt_selected() { [[ -z $RT_FILTER ]] || grep -qE -- "$RT_FILTER" <<<"$1"; }

rt_begin() {
  rt_case_counter=$((rt_case_counter + 1))
  RT_DIR=$RT_WORK/case-$rt_case_counter
  mkdir -p "$RT_DIR"
  RT_OUT=$RT_DIR/.stdout
  RT_ERR=$RT_DIR/.stderr
}

rt_verdict() {
  local name=$1 ok=$2 why=${3:-}
  if ((ok)); then
    RT_PASSED=$((RT_PASSED + 1))
    printf 'pass  %s\n' "$name"
  else
    RT_FAILED=$((RT_FAILED + 1))
    RT_FAILURES+=("$name")
    printf 'FAIL  %s%s\n' "$name" "${why:+: $why}"
  fi
}

rt_exit() {
  local name=$1 code=$2 regex=$3
  shift 4  # NAME CODE REGEX --
  rt_selected "$name" || return 0
  rt_begin
  (cd "$RT_DIR" && timeout -k 5 120 "$@") >"$RT_OUT" 2>"$RT_ERR" </dev/null
  RT_RC=$?
  if ((RT_RC != code)); then
    rt_verdict "$name" 0 "exit $RT_RC, expected $code; stderr: $(head -c 300 "$RT_ERR" | tr '\n' ' ')"
  elif [[ -n $regex ]] && ! grep -qE -- "$regex" "$RT_ERR"; then
    rt_verdict "$name" 0 "stderr does not match /$regex/: $(head -c 300 "$RT_ERR" | tr '\n' ' ')"
  else
    rt_verdict "$name" 1
  fi
}

rt_scenario() {
  local name=$1 fn=$2
  rt_selected "$name" || return 0
  rt_begin
  local why
  why=$(cd "$RT_DIR" && "$fn" 2>&1 >/dev/null)
  local rc=$?
  rt_verdict "$name" $((rc == 0)) "$(tail -c 300 <<<"$why" | tr '\n' ' ')"
}

rt_summary() {
  ((RT_FAILED == 0)) || printf 'failed:%s\n' "$(printf ' [%s]' "${RT_FAILURES[@]}")"
  echo "red-team: $RT_PASSED passed, $RT_FAILED failed"
  ((RT_FAILED == 0))
}
