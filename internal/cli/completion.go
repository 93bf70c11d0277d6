package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func completionCommand() command {
	return command{name: "completion", summary: "print a shell completion script: completion [--shell bash|zsh|fish] (default: $SHELL's)", run: runCompletion}
}

// subcommandWords are the words some commands take as their first argument.
var subcommandWords = map[string][]string{
	"info":   {"all", "epoch", "storage", "size", "price", "bft", "coin", "committee", "challenges"},
	"wallet": {"new", "balance", "transfer"},
	"chain":  {"run", "genesis", "init"},
	"node":   {"keygen", "register", "run"},
}

// commandFlags returns each command's flag names, found by running it with --help into a
// discarded output (every command builds its flag set before it does anything).
func commandFlags(ctx context.Context, cmds []command) map[string][]string {
	out := map[string][]string{}
	for _, c := range cmds {
		var sets []*flag.FlagSet
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, flagSets: &sets}
		c.run(ctx, e, []string{"--help"})
		seen := map[string]bool{}
		for _, fs := range sets {
			fs.VisitAll(func(f *flag.Flag) {
				if !seen[f.Name] && len(f.Name) > 1 {
					seen[f.Name] = true
					out[c.name] = append(out[c.name], "--"+f.Name)
				}
			})
		}
		sort.Strings(out[c.name])
	}
	return out
}

func runCompletion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "completion")
	shell := fs.String("shell", "", "bash, zsh or fish (default: the basename of $SHELL)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	sh := *shell
	if sh == "" {
		sh = filepath.Base(os.Getenv("SHELL"))
		if sh == "." || sh == "" {
			return fmt.Errorf("could not auto-detect the shell; give --shell bash, zsh or fish")
		}
	}
	cmds := commands()
	names := []string{"json"}
	for _, c := range cmds {
		names = append(names, c.name)
		names = append(names, c.aliases...)
	}
	sort.Strings(names)
	flags := commandFlags(ctx, cmds)
	global := []string{"--config", "--context", "--wallet", "--gas-budget", "--json", "--help", "--version"}
	switch sh {
	case "bash":
		return bashCompletion(e.stdout, names, flags, global)
	case "zsh":
		fmt.Fprintln(e.stdout, "#compdef floe\nautoload -U +X bashcompinit && bashcompinit")
		return bashCompletion(e.stdout, names, flags, global)
	case "fish":
		return fishCompletion(e.stdout, cmds, flags, global)
	}
	return usagef("--shell %q: possible values: bash, zsh, fish", sh)
}

func bashCompletion(w io.Writer, names []string, flags map[string][]string, global []string) error {
	var b strings.Builder
	b.WriteString("# floe bash completion (floe completion --shell bash)\n_floe() {\n")
	b.WriteString("  local cur cmd i\n  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n  cmd=\"\"\n")
	b.WriteString("  for ((i = 1; i < COMP_CWORD; i++)); do\n    case \"${COMP_WORDS[i]}\" in\n      -*) ;;\n      *) cmd=\"${COMP_WORDS[i]}\"; break ;;\n    esac\n  done\n")
	b.WriteString("  case \"$cmd\" in\n")
	fmt.Fprintf(&b, "    \"\") COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", strings.Join(append(append([]string(nil), names...), global...), " "))
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		words := append(append([]string(nil), flags[k]...), subcommandWords[k]...)
		fmt.Fprintf(&b, "    %s) if [[ \"$cur\" == -* || -n %q ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi ;;\n",
			k, strings.Join(subcommandWords[k], " "), strings.Join(words, " "))
	}
	b.WriteString("    *) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n  esac\n}\ncomplete -F _floe floe\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func fishCompletion(w io.Writer, cmds []command, flags map[string][]string, global []string) error {
	var b strings.Builder
	b.WriteString("# floe fish completion (floe completion --shell fish)\n")
	for _, g := range global {
		fmt.Fprintf(&b, "complete -c floe -l %s\n", strings.TrimPrefix(g, "--"))
	}
	fmt.Fprintf(&b, "complete -c floe -n __fish_use_subcommand -a json -d %q\n", "run a command given as JSON")
	for _, c := range cmds {
		for _, n := range append([]string{c.name}, c.aliases...) {
			fmt.Fprintf(&b, "complete -c floe -n __fish_use_subcommand -a %s -d %q\n", n, c.summary)
		}
		for _, f := range flags[c.name] {
			fmt.Fprintf(&b, "complete -c floe -n '__fish_seen_subcommand_from %s' -l %s\n", c.name, strings.TrimPrefix(f, "--"))
		}
		for _, s := range subcommandWords[c.name] {
			fmt.Fprintf(&b, "complete -c floe -n '__fish_seen_subcommand_from %s' -a %s\n", c.name, s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
