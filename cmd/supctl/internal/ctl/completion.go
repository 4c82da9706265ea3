package ctl

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// CompletionCommand is `supctl completion bash|zsh|fish`: a script that
// completes commands, their flags, signal names and process names. Names
// come from supd as you type (`supctl names`, quiet and quick when supd is
// not there).
type CompletionCommand struct{ env }

func (c *CompletionCommand) Run(ctx context.Context, args []string) error {
	c.flags()
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usageError(fmt.Errorf("want one shell: bash, zsh or fish"))
	}
	var script string
	switch pos[0] {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = "autoload -U +X bashcompinit && bashcompinit\n" + bashCompletion
	case "fish":
		script = fishCompletion()
	default:
		return c.usageError(fmt.Errorf("unknown shell %q: bash, zsh or fish", pos[0]))
	}
	script = strings.ReplaceAll(script, "@COMMANDS@", strings.Join(commandNames(), " "))
	_, err = io.WriteString(c.stdout, script)
	return err
}

// NamesCommand is `supctl names`, for completion scripts: every process
// and instance name, and all, one a line. It prints nothing (and exits 0)
// when supd cannot be reached: a completion must not print errors.
type NamesCommand struct{ env }

func (c *NamesCommand) Run(ctx context.Context, args []string) error {
	c.flags()
	if _, err := c.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	sts, err := c.client().Status(ctx, nil)
	if err != nil {
		return nil
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, st := range sts {
		for _, n := range []string{st.Process, st.Name} {
			if !seen[n] {
				seen[n] = true
				b.WriteString(n + "\n")
			}
		}
	}
	b.WriteString("all\n")
	_, err = io.WriteString(c.stdout, b.String())
	return err
}

// completionTimeout bounds the names lookup of a completion.
const completionTimeout = 2 * time.Second

func commandNames() []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return names
}

const bashCompletion = `# supctl completion (bash; zsh through bashcompinit)
_supctl() {
    local cur prev words cword cmd i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --socket) ((i++)) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ "$prev" == "--socket" ]]; then
        COMPREPLY=($(compgen -f -- "$cur")); return
    fi
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "@COMMANDS@ help --socket --version" -- "$cur")); return
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--socket --json --no-wait --timeout --allow-empty -f -n" -- "$cur")); return
    fi
    case "$cmd" in
        completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "@COMMANDS@" -- "$cur")) ;;
        events|top) ;;
        signal)
            if [[ "$prev" == "signal" ]]; then
                COMPREPLY=($(compgen -W "HUP INT QUIT USR1 USR2 TERM KILL WINCH CONT STOP" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(supctl names 2>/dev/null)" -- "$cur"))
            fi ;;
        *) COMPREPLY=($(compgen -W "$(supctl names 2>/dev/null)" -- "$cur")) ;;
    esac
}
complete -F _supctl supctl
`

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# supctl completion (fish)\n")
	b.WriteString("complete -c supctl -f\n")
	b.WriteString("complete -c supctl -l socket -r -F -d 'control socket of supd'\n")
	b.WriteString("complete -c supctl -l version -d 'print the version'\n")
	for _, c := range commands {
		summary, _, _ := strings.Cut(c.help, "\n")
		summary = strings.ReplaceAll(strings.TrimSuffix(summary, "."), "'", `\'`)
		fmt.Fprintf(&b, "complete -c supctl -n __fish_use_subcommand -a %s -d '%s'\n", c.name, summary)
	}
	b.WriteString("complete -c supctl -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	b.WriteString("complete -c supctl -n '__fish_seen_subcommand_from signal; and test (count (commandline -opc)) -eq 2' -a 'HUP INT QUIT USR1 USR2 TERM KILL WINCH CONT STOP'\n")
	b.WriteString("complete -c supctl -n 'not __fish_use_subcommand; and not __fish_seen_subcommand_from completion events top help' -a '(supctl names 2>/dev/null)'\n")
	b.WriteString("complete -c supctl -n 'not __fish_use_subcommand' -l json -l no-wait -l timeout -l allow-empty\n")
	return b.String()
}
