# Baseline hostile inputs that already behaved: kept so a regression shows up here too.
rt_exit "unknown key names file and line" 2 'bad\.toml:2: run\.metod' -- \
  bash -c 'printf "[run]\nmetod = 1\n" > bad.toml && "$RM" simulate -c bad.toml'
rt_exit "unknown --set key" 2 'run\.nope' -- "$RM" simulate -c "$Q" --set run.nope=1
rt_exit "missing config file" 2 'nofile\.toml' -- "$RM" simulate -c nofile.toml
rt_exit "momentum out of range" 2 'method\.momentum' -- "$RM" simulate -c "$Q" --set method.momentum=1.0
