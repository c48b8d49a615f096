# Config and command-line hostile inputs: every one must end
# in exit 2 with a message on stderr naming the file and line or the --set, or, where the value is
# legitimate, in a run that finishes. Sourced by scripts/red-team.sh (lib.sh: rt_exit, rt_scenario).

# --- 4: nesting that overflowed the stack inside toml++ (SIGSEGV on every rank) ---
rt_exit "40,000-level dotted header (the issue's example)" 2 'd\.toml:1: a table header deeper than \[section\.subsection\]' -- \
  bash -c 'python3 -c "print(\"[\"+\".\".join([\"a\"]*40000)+\"]\")" > d.toml && "$RM" simulate -c d.toml'
rt_exit "40,000-level dotted key" 2 'k\.toml:2: a dotted key deeper than section\.subsection\.key' -- \
  bash -c 'python3 -c "print(\"[run]\n\"+\".\".join([\"a\"]*40000)+\" = 1\")" > k.toml && "$RM" simulate -c k.toml'
rt_exit "40,000-level array-of-tables header" 2 'aot\.toml:1: an array of tables' -- \
  bash -c 'python3 -c "print(\"[[\"+\".\".join([\"a\"]*40000)+\"]]\")" > aot.toml && "$RM" simulate -c aot.toml'
rt_exit "150,000 dotted parts inside an inline table" 2 'it\.toml:1: an inline table' -- \
  bash -c 'python3 -c "print(\"x = {\"+\".\".join([\"a\"]*150000)+\" = 1}\")" > it.toml && "$RM" simulate -c it.toml'
rt_exit "100,000 nested arrays" 2 'arr\.toml:1: an array inside an array' -- \
  bash -c 'python3 -c "print(\"x = \"+\"[\"*100000+\"]\"*100000)" > arr.toml && "$RM" simulate -c arr.toml'
rt_exit "100,000 nested inline tables" 2 'tab\.toml:1: an inline table' -- \
  bash -c 'python3 -c "print(\"x = \"+\"{a = \"*100000+\"1\"+\"}\"*100000)" > tab.toml && "$RM" simulate -c tab.toml'
# (one argument may have at most 128 KiB, MAX_ARG_STRLEN: 60,000 parts)
rt_exit "deep dotted key in a --set value" 2 '--set run\.out=.*run\.out: an inline table' -- \
  bash -c '"$RM" simulate -c "$Q" --set "run.out={$(python3 -c "print(\".\".join([\"a\"]*60000))") = 1}"'
rt_exit "deep header under mpirun (every rank)" 2 'd\.toml:1: a table header deeper' -- \
  bash -c 'python3 -c "print(\"[\"+\".\".join([\"a\"]*40000)+\"]\")" > d.toml && mpirun --oversubscribe -np 3 "$RM" train -c d.toml'
rt_exit "non-ASCII where TOML allows none (toml++ #295)" 2 'na\.toml:1: a non-ASCII character' -- \
  bash -c 'printf "a = 1 \xef\xb1\x80\n" > na.toml && "$RM" simulate -c na.toml'
rt_exit "header without a key (toml++ #301)" 2 'h\.toml:1: an array of tables' -- \
  bash -c 'printf "[[=\n" > h.toml && "$RM" simulate -c h.toml'

# --- 8: unbounded reads ---
rt_exit "-c /dev/zero" 2 '/dev/zero: is not a regular file' -- "$RM" simulate -c /dev/zero
rt_exit "-c /dev/zero under mpirun" 2 '/dev/zero: is not a regular file' -- mpirun --oversubscribe -np 3 "$RM" train -c /dev/zero
rt_exit "-c a FIFO without a writer" 2 'fifo: is not a regular file' -- \
  bash -c 'mkfifo fifo && "$RM" simulate -c fifo'
rt_exit "-c a directory" 2 ': is a directory, not a config file' -- "$RM" simulate -c .
rt_exit "-c a 2 MiB file" 2 'big\.toml: config file is larger than 1048576 bytes' -- \
  bash -c 'head -c 2097152 /dev/zero | tr "\0" "#" > big.toml && "$RM" simulate -c big.toml'

# --- 9: filesystem errors and sizes that cannot be allocated ---
rt_exit "-c a symlink loop" 2 'loop: cannot open config file: Too many levels of symbolic links' -- \
  bash -c 'ln -s loop2 loop && ln -s loop loop2 && "$RM" simulate -c loop'
rt_exit "-c a name too long" 2 '\(5000 bytes\): cannot open config file: File name too long' -- \
  bash -c '"$RM" simulate -c "$(head -c 5000 /dev/zero | tr "\0" n)"'
rt_exit "-c a file without permission (as root: readable)" 0 '' -- \
  bash -c 'cp "$Q" p.toml && chmod 000 p.toml && "$RM" simulate -c p.toml --set run.max_updates=5 --out r'
rt_exit "rows x cols beyond memory" 2 'objective\.rows x objective\.cols x objective\.blocks = 46340 x 46340 x 1: .* bytes' -- \
  "$RM" simulate -c "$Q" --set objective.rows=46340 --set objective.cols=46340
rt_exit "rows x cols beyond memory under mpirun" 2 'objective\.rows x objective\.cols x objective\.blocks = 46340' -- \
  mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set objective.rows=46340 --set objective.cols=46340
rt_exit "two billion workers" 2 '--set run\.workers=2000000000: run\.workers: .* bytes' -- \
  "$RM" simulate -c "$Q" --set run.workers=2000000000

# --- 7: values that validated but hung (timeout 120 s in rt_exit: a hang fails) ---
rt_exit "Poisson outage mean 1e10 (the issue's example)" 2 '--set heterogeneity\.outage_rate=1e12: heterogeneity\.outage_rate: must be in \[0\.0, 1e\+06\]' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.outage_rate=1e12 --set heterogeneity.outage_s=0.001
rt_exit "outage_rate at its maximum finishes" 0 '' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.outage_rate=1e6 --set heterogeneity.outage_s=0.001 --set run.time_budget_s=5 --out r
rt_exit "outages past the maximum delay are clamped and said" 0 'delays are clamped to 1e\+09 s' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.outage_rate=1e6 --set heterogeneity.outage_s=1e9 --set run.time_budget_s=5 --out r
rt_exit "base_s = 0, noise none (virtual time stands still)" 2 '--set heterogeneity\.base_s=0: heterogeneity\.base_s: must be > 0 in the simulator' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.base_s=0 --set heterogeneity.noise=none
rt_exit "base_s = 1e-300" 2 'heterogeneity\.base_s: run\.time_budget_s / \(heterogeneity\.base_s x s_1\)' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.base_s=1e-300
rt_exit "base_s = 0 from a file names file:line" 2 'b\.toml:3: heterogeneity\.base_s: must be > 0 in the simulator' -- \
  bash -c 'printf "[heterogeneity]\nnoise = \"none\"\nbase_s = 0.0\n" > b.toml && "$RM" simulate -c b.toml'
rt_exit "lognormal noise_scale = 1e200" 2 '--set heterogeneity\.noise_scale=1e200: heterogeneity\.noise_scale' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.noise=lognormal --set heterogeneity.noise_scale=1e200
rt_exit "lognormal noise_scale = 6 (median e^-18)" 2 'heterogeneity\.noise_scale: run\.time_budget_s / ' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.noise=lognormal --set heterogeneity.noise_scale=6
rt_exit "halfnormal noise_scale = 1e300" 2 'heterogeneity\.noise_scale: must be in \[0\.0, 1e6\]' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.noise_scale=1e300
rt_exit "exponential noise_scale = 1e300" 2 'heterogeneity\.noise_scale: must be in \[0\.0, 1e6\]' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.noise=exponential --set heterogeneity.noise_scale=1e300
rt_exit "eval_every_s = 1e-300" 2 '--set run\.eval_every_s=1e-300: run\.eval_every_s: run\.time_budget_s / run\.eval_every_s' -- \
  "$RM" simulate -c "$Q" --set run.eval_every_s=1e-300
rt_exit "log_every_s = 1e-300" 2 'run\.log_every_s: must be in \[0\.01, 1e\+09\]' -- \
  "$RM" simulate -c "$Q" --set run.log_every_s=1e-300
rt_exit "time_budget_s = 1e300" 2 'run\.time_budget_s: must be in \(0\.0, 1e\+09\]' -- \
  "$RM" simulate -c "$Q" --set run.time_budget_s=1e300
rt_exit "power = 1e300 (i^p = inf)" 2 '--set heterogeneity\.power=1e300: heterogeneity\.power: heterogeneity\.base_s x s_n' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.profile=power --set heterogeneity.power=1e300
rt_exit "list entry 1e300" 2 'heterogeneity\.list: heterogeneity\.base_s x s_n' -- \
  "$RM" simulate -c "$Q" --set run.workers=2 --set heterogeneity.profile=list --set "heterogeneity.list=[1, 1e300]"
rt_exit "list entry 1e-300" 2 'heterogeneity\.list: run\.time_budget_s / ' -- \
  "$RM" simulate -c "$Q" --set run.workers=2 --set heterogeneity.profile=list --set "heterogeneity.list=[1, 1e-300]"
rt_exit "checkpoint.every_s = 1e300 under mpirun" 2 'checkpoint\.every_s: must be in \[0\.0, 1e\+09\]' -- \
  mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set checkpoint.every_s=1e300
rt_exit "worker_timeout_s = 1e300 under mpirun" 2 'fault\.worker_timeout_s: must be in \[0\.0, 1e\+09\]' -- \
  mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set fault.worker_timeout_s=1e300
rt_exit "huge threshold and batch are legitimate: the run ends at its budget" 0 '' -- \
  "$RM" simulate -c "$Q" --set method.threshold=2147483647 --set run.time_budget_s=2 --out r1
rt_exit "rennala with an unreachable batch ends at its budget" 0 '' -- \
  "$RM" simulate -c "$Q" --set run.method=rennala --set method.batch=2147483647 --set run.time_budget_s=2 --out r2

# --- 11: messages on stderr, cut, and located ---
rt_config_stderr_only() {
  "$RM" simulate -c nofile.toml >out.txt 2>err.txt
  local rc=$?
  ((rc == 2)) || { echo "exit $rc, expected 2" >&2; return 1; }
  [[ ! -s out.txt ]] || { echo "stdout is not empty: $(head -c 200 out.txt)" >&2; return 1; }
  grep -q 'nofile\.toml: cannot open config file' err.txt || { echo "stderr: $(head -c 200 err.txt)" >&2; return 1; }
}
rt_scenario "errors go to stderr, nothing to stdout" rt_config_stderr_only
rt_config_long_value() {
  "$RM" simulate -c "$Q" --set "run.method=$(head -c 100000 /dev/zero | tr '\0' x)" 2>err.txt
  local size
  size=$(wc -c <err.txt)
  ((size < 600)) || { echo "message of $size bytes" >&2; return 1; }
  grep -q '… (100011 bytes)' err.txt || { echo "stderr: $(head -c 300 err.txt)" >&2; return 1; }
}
rt_scenario "a 100 KB --set value is echoed cut" rt_config_long_value
rt_exit "a 100 KB unknown key from a file is cut" 2 'u\.toml:2: run\.x{76}… \(100004 bytes\): unknown key' -- \
  bash -c 'printf "[run]\n%s = 1\n" "$(head -c 100000 /dev/zero | tr "\0" x)" > u.toml && "$RM" simulate -c u.toml'
rt_exit "a 100 KB string from a file is cut" 2 'm\.toml:2: run\.method: unknown value "x{80}… \(100000 bytes\)"' -- \
  bash -c 'printf "[run]\nmethod = \"%s\"\n" "$(head -c 100000 /dev/zero | tr "\0" x)" > m.toml && "$RM" simulate -c m.toml'
rt_exit "multiplicative mode in the simulator names the --set" 2 '--set heterogeneity\.mode=multiplicative: heterogeneity\.mode' -- \
  "$RM" simulate -c "$Q" --set heterogeneity.mode=multiplicative

# --- --version ---
rt_config_version() {
  local out rc
  out=$("$RM" --version 2>/dev/null)
  rc=$?
  ((rc == 0)) || { echo "exit $rc" >&2; return 1; }
  grep -qE '^ringmaster [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{4,}(-dirty)?|unknown)\)$' <<<"$out" ||
    { echo "stdout: $out" >&2; return 1; }
  "$RM" --help | grep -q -- '--version' || { echo "--version is not in the usage" >&2; return 1; }
}
rt_scenario "--version prints version and commit on stdout" rt_config_version
