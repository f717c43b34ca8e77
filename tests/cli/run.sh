#!/usr/bin/env bash
# run.sh: the `coffer` CLI's generated documents against its own --help, without a server (tests/run-all.sh's
# suite "cli_docs"): the bash completion driven in bash as bash drives it (COMP_WORDS, COMP_CWORD, the
# _coffer function, COMPREPLY) for commands, verbs, options and option values; the zsh completion
# (zsh -n, and lines typed with a TAB into an interactive zsh on a pty through compinit); every option a synopsis
# shows is one the command's parser takes; every command has an example of itself; the man pages
# coffer(1) and cofferd(8) hold every command and option --help shows and render with `man -l` without
# a warning (a broken page is seen to warn); the README's command list is --help's; and a second
# `make test-bin` does nothing. Prints PASS/FAIL lines and "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-cli-docs-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
check() { # name condition-status message
  if [ "$2" = 0 ]; then ok "$1"; else bad "$1" "$3"; fi
}
cli=${COFFER_CLI:-build/asan/coffer}
export LC_ALL=C.UTF-8 MANWIDTH=200

# The commands --help lists, one "noun verb" or "noun" a line, and each one's synopsis words.
"$cli" --help >"$tmp/help" 2>&1
sed -n 's/^  coffer \([a-z]*\)\( [a-z][a-z]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p' "$tmp/help" >"$tmp/commands"
ncmd=$(wc -l <"$tmp/commands")
if [ "$ncmd" -ge 30 ]; then ok "help_lists_the_commands ($ncmd)"; else bad help_lists_the_commands "only $ncmd in: $(head -c 300 "$tmp/help")"; fi
synopsis() { grep -m1 "^  coffer $1\( \|$\)" "$tmp/help" | sed "s/^  coffer $1//"; }
# example_of CMD: the example "coffer CMD --help" shows ("coffer download --help" lists the noun's two
# commands: a word that is no verb then --help shows the whole command's own help).
example_of() {
  local ex
  ex=$("$cli" $1 --help 2>&1 | sed -n '/^example:$/{n;p}' | sed 's/^  //')
  [ -n "$ex" ] || ex=$("$cli" $1 _ --help 2>&1 | sed -n '/^example:$/{n;p}' | sed 's/^  //')
  printf '%s' "$ex"
}
options_of() { synopsis "$1" | grep -oE '(^|[ [])-[-a-z]+' | sed 's/^[ []//' | sort -u; }

# ---- completion ----
"$cli" completion bash >"$tmp/completion.bash"
if cmp -s "$tmp/completion.bash" build/completion/coffer && bash -n build/completion/coffer; then
  ok installed_completion_is_the_tables_current_script
else
  bad installed_completion_is_the_tables_current_script "build/completion/coffer differs from coffer completion bash (or is not bash)"
fi
# complete WORDS...: what bash offers for the last word (sorted, one line, space-separated).
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _coffer; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$tmp/completion.bash" "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
reg=$(bash -c 'source "$1"; complete -p coffer' _ "$tmp/completion.bash")
check completion_registers_for_coffer "$([ "$reg" = "complete -F _coffer coffer" ]; echo $?)" "complete -p: '$reg'"

want=$( (cut -d' ' -f1 "$tmp/commands"; echo help) | sort -u | tr '\n' ' ' | sed 's/ $//')
got=$(complete_words coffer '')
check completes_the_commands "$([ "$got" = "$want" ]; echo $?)" "got '$got', want '$want'"
got=$(complete_words coffer gr)
check completes_a_command_prefix "$([ "$got" = group ]; echo $?)" "coffer gr<TAB>: '$got'"
got=$(complete_words coffer --tenant acme --url http://h:1/v2 run '')
check skips_global_options_and_their_values "$([ "$got" = "cancel list start" ]; echo $?)" "got '$got'"

bad_nouns=""
for noun in $(cut -d' ' -f1 "$tmp/commands" | sort -u); do
  want=$(awk -v n="$noun" '$1 == n && NF == 2 {print $2}' "$tmp/commands" | sort | tr '\n' ' ' | sed 's/ $//')
  [ -n "$want" ] || continue
  got=$(complete_words coffer "$noun" '')
  [ "$got" = "$want" ] || bad_nouns="$bad_nouns [$noun: '$got' want '$want']"
done
check completes_each_commands_verbs "$([ -z "$bad_nouns" ]; echo $?)" "$bad_nouns"

bad_opts=""
while read -r cmd; do
  got=" $(complete_words coffer $cmd --) "
  for o in $(options_of "$cmd") --help --json --url; do
    case $o in --*) ;; *) continue ;; esac
    [[ "$got" == *" $o "* ]] || bad_opts="$bad_opts [$cmd: $o missing]"
  done
done <"$tmp/commands"
got=" $(complete_words coffer group create --) "
[[ "$got" == *" --retention-days "* ]] && bad_opts="$bad_opts [group create offers policy create's --retention-days]"
got=$(complete_words coffer policy create --every)
[ "$got" = "--every-hours" ] || bad_opts="$bad_opts [policy create --every<TAB>: '$got']"
check completes_each_commands_options "$([ -z "$bad_opts" ]; echo $?)" "$bad_opts"

mkdir -p "$tmp/dirs/sub" && : >"$tmp/dirs/subfile"
v1=$(complete_words coffer search x --type '')
v2=$(complete_words coffer source register --host-type k)
v3=$(complete_words coffer restore --snapshot S --path /a --to "$tmp/dirs/su")
v4=$(complete_words coffer download --recovery R -o "$tmp/dirs/su")
v5=$(complete_words coffer policy create --name '')
if [ "$v1" = "Directory File Symlink" ] && [ "$v2" = "kLinux kWindows" ] && [ "$v3" = "$tmp/dirs/sub" ] &&
   [ "$v4" = "$tmp/dirs/sub $tmp/dirs/subfile" ] && [ -z "$v5" ]; then
  ok completes_option_values
else
  bad completes_option_values "--type: '$v1'; --host-type k: '$v2'; --to (dirs): '$v3'; -o (files): '$v4'; --name: '$v5'"
fi

# ---- zsh completion: the same table, run by zsh's completion system ----
if ! command -v zsh >/dev/null; then
  bad zsh_completion_is_the_tables_current_script "zsh is not installed (scripts/setup.sh --test installs it)"
  bad zsh_completes_commands_options_and_values "zsh is not installed"
else
  mkdir -p "$tmp/zfunc"
  "$cli" completion zsh >"$tmp/zfunc/_coffer"
  if cmp -s "$tmp/zfunc/_coffer" build/completion/_coffer && zsh -n build/completion/_coffer &&
     [ "$(head -n1 build/completion/_coffer)" = "#compdef coffer" ]; then
    ok zsh_completion_is_the_tables_current_script
  else
    bad zsh_completion_is_the_tables_current_script "build/completion/_coffer differs from coffer completion zsh (or is not zsh)"
  fi
  # Each line is typed with a TAB into an interactive zsh on a pty (zsh/zpty) that loaded the script
  # from fpath through compinit, then ^T (bound to a widget) writes the command line as completed.
  # compinit writes its dump file even with -D: it goes into the suite's directory (a dump file of
  # /dev/null replaced the device with a regular file and broke every other process's redirections).
  cat >"$tmp/zdrive.zsh" <<'ZSH'
zmodload zsh/zpty || exit 3
fp=$1 out=$2; shift 2
: >$out
zpty z zsh -f -i || exit 3
zpty -w z "PS1='> '; fpath=($fp \$fpath); autoload -Uz compinit; compinit -u -D -d ${fp:h}/zcompdump"
zpty -w z "_t_dump() { print -r -- \"[\$BUFFER]\" >>$out; BUFFER=; }; zle -N _t_dump; bindkey '^T' _t_dump"
for line in "$@"; do zpty -w -n z "$line"$'\t'$'\x14'; done
zpty -w z 'exit'
for i in {1..200}; do (( $(wc -l <$out) >= $# )) && break; sleep 0.05; done
zpty -d z
ZSH
  timeout 30 zsh -f "$tmp/zdrive.zsh" "$tmp/zfunc" "$tmp/zout" 'coffer gr' 'coffer policy cr' \
    'coffer --tenant acme run ca' 'coffer policy create --every' 'coffer source register --host-type kW' \
    'coffer search x --type Sym' "coffer restore --snapshot S --path /a --to $tmp/dirs/su" \
    "coffer download --recovery R -o $tmp/dirs/subf" 'coffer --ten' 'coffer completion z' \
    'coffer policy create --name ' >/dev/null 2>&1
  want="[coffer group ]
[coffer policy create ]
[coffer --tenant acme run cancel ]
[coffer policy create --every-hours ]
[coffer source register --host-type kWindows ]
[coffer search x --type Symlink ]
[coffer restore --snapshot S --path /a --to $tmp/dirs/sub/]
[coffer download --recovery R -o $tmp/dirs/subfile ]
[coffer --tenant ]
[coffer completion zsh ]
[coffer policy create --name ]"
  got=$(cat "$tmp/zout" 2>/dev/null)
  check zsh_completes_commands_options_and_values "$([ "$got" = "$want" ]; echo $?)" \
    "typed with TAB, got: $(tr '\n' ' ' <<<"$got")"
fi

# ---- every option a synopsis shows is one its command takes (an unreachable server: nothing happens) ----
dead=http://127.0.0.1:1/v2
bad_parse=""
while read -r cmd; do
  for o in $(options_of "$cmd"); do
    [ "$o" = --help ] && continue
    out=$("$cli" --url "$dead" --key k $cmd "$o" "$tmp/dirs/value" 2>&1 </dev/null)
    [[ "$out" == *"unknown option"* || "$out" == *"needs a value"* ]] && bad_parse="$bad_parse [$cmd $o: $out]"
  done
done <"$tmp/commands"
out=$("$cli" --url "$dead" --key k policy create --no-such-option 2>&1); rc=$?
[[ "$out" == *"unknown option '--no-such-option'"* && "$rc" = 2 ]] || bad_parse="$bad_parse [control: --no-such-option was taken: $rc $out]"
check every_synopsis_option_is_accepted "$([ -z "$bad_parse" ]; echo $?)" "$bad_parse"

# ---- an example of itself for every command ----
bad_ex=""
while read -r cmd; do
  ex=$(example_of "$cmd")
  # the example runs this command: its words, global options and their values aside, start with it
  words=$(sed -E 's/--(url|key|tenant|cacert|pin) [^ ]+ //g; s/--json //g' <<<"$ex")
  [[ "$words" == "coffer $cmd" || "$words" == "coffer $cmd "* ]] || bad_ex="$bad_ex [$cmd: '$ex']"
done <"$tmp/commands"
check every_command_has_an_example_of_itself "$([ -z "$bad_ex" ]; echo $?)" "$bad_ex"

# ---- man pages ----
"$cli" --help-man >"$tmp/coffer.1"
check installed_man_page_is_the_tables_current_page "$(cmp -s "$tmp/coffer.1" build/man/coffer.1; echo $?)" \
  "build/man/coffer.1 differs from coffer --help-man"
man_warns() { man --warnings=all -l "$1" 2>&1 >"$tmp/$(basename "$1").txt" | head -5; }
w1=$(man_warns build/man/coffer.1); w2=$(man_warns build/man/cofferd.8)
sed 's/^\.SH OPTIONS$/.SH OPTIONS\n.XQ undefined/; s/^\.TP$/.TP 1x2/' build/man/coffer.1 >"$tmp/broken.1"
w3=$(man_warns "$tmp/broken.1")
if [ -z "$w1" ] && [ -z "$w2" ] && [ -n "$w3" ] && [ -s "$tmp/coffer.1.txt" ] && [ -s "$tmp/cofferd.8.txt" ]; then
  ok man_pages_render_without_warnings
else
  bad man_pages_render_without_warnings "coffer.1: '$w1'; cofferd.8: '$w2'; a broken page warned: '$w3'"
fi
man -l build/man/coffer.1 >"$tmp/coffer.txt" 2>/dev/null
missing=""
while read -r cmd; do
  grep -qx "   coffer $cmd" "$tmp/coffer.txt" || missing="$missing [section '$cmd']"
  ex=$(example_of "$cmd")
  [ -n "$ex" ] && grep -qF -- "$ex" "$tmp/coffer.txt" || missing="$missing [example of $cmd]"
  for o in $(options_of "$cmd"); do
    grep -A3 -x "   coffer $cmd" "$tmp/coffer.txt" | grep -qe "$o" || missing="$missing [$cmd $o]"
  done
done <"$tmp/commands"
for e in COFFER_URL COFFER_KEY COFFER_TENANT EXIT; do grep -q "^$e\|^ *$e" "$tmp/coffer.txt" || missing="$missing [$e]"; done
check man_coffer_has_every_command_its_options_and_example "$([ -z "$missing" ]; echo $?)" "$missing"

daemon=${COFFERD:-build/asan/cofferd}
man -l build/man/cofferd.8 >"$tmp/cofferd.txt" 2>/dev/null
scripts/help2man.sh "$daemon" 8 "the Coffer backup and recovery daemon" "coffer(1)" | cmp -s - build/man/cofferd.8
fresh=$?
missing=""
for w in $("$daemon" --help 2>&1 | grep -oE -- '--[a-z][-a-z]*|COFFER_[A-Z_]+' | sort -u); do
  grep -qF -- "$w" "$tmp/cofferd.txt" || missing="$missing $w"
done
grep -q '^NAME' "$tmp/cofferd.txt" && grep -q '^SYNOPSIS' "$tmp/cofferd.txt" || missing="$missing NAME/SYNOPSIS"
if [ -z "$missing" ] && [ "$fresh" = 0 ]; then
  ok man_cofferd_has_every_option_and_variable_of_its_help
else
  bad man_cofferd_has_every_option_and_variable_of_its_help "missing:$missing; build/man/cofferd.8 current: $fresh"
fi

# ---- README: its command list is --help's, and each command it shows exists ----
sed -n 's/^    coffer \([a-z]*\)\( [a-z|]*\)\{0,1\}$/\1\2/p' README.md |
  awk '{ n = split($2, v, "|"); if (n == 0) print $1; for (i = 1; i <= n; i++) print $1 " " v[i] }' | sort >"$tmp/readme"
diffs=$(diff <(sort "$tmp/commands") "$tmp/readme" | grep '^[<>]' | sed 's/^</only in --help:/; s/^>/only in the README:/' | tr '\n' ';')
unknown=""
while read -r line; do
  words=$(sed -E 's/^ *build\/coffer //; s/--json //; s/ +#.*//' <<<"$line")
  set -- $words
  grep -qx "$1 $2" "$tmp/commands" || grep -qx "$1" "$tmp/commands" || unknown="$unknown [$line]"
done < <(grep -E '^ +build/coffer ' README.md)
if [ -s "$tmp/readme" ] && [ -z "$diffs" ] && [ -z "$unknown" ]; then
  ok readme_commands_match_help
else
  bad readme_commands_match_help "${diffs:-}${unknown:+ README examples of no command:$unknown}"
fi

# ---- a second build with no change does nothing ----
if make -q test-bin >/dev/null 2>&1 && [ -z "$(make -n test-bin 2>/dev/null | grep -v 'Nothing to be done')" ]; then
  ok second_build_does_nothing
else
  bad second_build_does_nothing "make -n test-bin would run: $(make -n test-bin 2>&1 | head -n 5 | cut -c1-160 | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
