package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/floelabs/floe/blob"
)

// The command line follows Walrus's (clap's) conventions on top of Go's flag package:
// flags and positional arguments in any order, "--" ends the flags, a list flag takes every
// value up to the next flag (--object-ids A B C) or repeats (--object-ids A --object-ids B), a
// pair flag takes two (--attr KEY VALUE), and a value or positional argument starting with "-"
// that is not a flag name stays an argument (a blob ID may start with "-").

// multiFlag is a flag.Value collecting the values of a repeatable flag. nargs is 0 for "one or
// more values per occurrence", 2 for a pair; split cuts each value at commas (for ID lists,
// whose items never hold one).
type multiFlag struct {
	vals  *[]string
	nargs int
	split bool
}

func (l *multiFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l *multiFlag) Set(s string) error {
	if !l.split {
		*l.vals = append(*l.vals, s)
		return nil
	}
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.vals = append(*l.vals, p)
		}
	}
	return nil
}

// listVar defines a list flag (see multiFlag) under each of names and returns its values.
func listVar(fs *flag.FlagSet, usage string, split bool, names ...string) *[]string {
	vals := new([]string)
	for _, n := range names {
		fs.Var(&multiFlag{vals: vals, split: split}, n, usage)
	}
	return vals
}

// pairVar defines a flag taking two values per occurrence (--attr KEY VALUE).
func pairVar(fs *flag.FlagSet, name, usage string) *[]string {
	vals := new([]string)
	fs.Var(&multiFlag{vals: vals, nargs: 2}, name, usage)
	return vals
}

// flagName returns the name of a flag token ("--name", "-name", "--name=value") and whether
// a value is attached.
func flagName(tok string) (name string, attached bool) {
	name = strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	name, _, attached = strings.Cut(name, "=")
	return name, attached
}

// isFlagToken reports whether tok names a flag of fs (or asks for help).
func isFlagToken(fs *flag.FlagSet, tok string) bool {
	if len(tok) < 2 || tok[0] != '-' || tok == "--" {
		return false
	}
	name, _ := flagName(tok)
	return fs.Lookup(name) != nil || name == "h" || name == "help"
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags parses args with fs and returns the positional arguments (see the conventions
// above). Errors are usage errors; a request for help returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !isFlagToken(fs, tok) {
			if len(tok) > 1 && tok[0] == '-' {
				if _, err := blob.ParseID(tok); err != nil {
					// Not a flag and not a blob ID: let the flag package report it.
					flags = append(flags, tok)
					continue
				}
			}
			positional = append(positional, tok)
			continue
		}
		name, attached := flagName(tok)
		f := fs.Lookup(name)
		switch {
		case f == nil, attached, isBoolFlag(f):
			flags = append(flags, tok)
		default:
			l, _ := f.Value.(*multiFlag)
			var vals []string
			switch {
			case l != nil && l.nargs == 0:
				for i+1 < len(args) && args[i+1] != "--" && !isFlagToken(fs, args[i+1]) {
					vals = append(vals, args[i+1])
					i++
				}
			default:
				want := 1
				if l != nil {
					want = l.nargs
				}
				for range want {
					if i+1 >= len(args) {
						break
					}
					vals = append(vals, args[i+1])
					i++
				}
				if len(vals) != want {
					return nil, usagef("flag needs %d argument(s): %s", want, tok)
				}
			}
			if len(vals) == 0 {
				return nil, usagef("flag needs an argument: %s", tok)
			}
			for _, v := range vals {
				flags = append(flags, "--"+name+"="+v)
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{msg: err.Error()}
	}
	if rest := fs.Args(); len(rest) > 0 {
		return nil, usagef("unexpected argument %q", rest[0])
	}
	return positional, nil
}

// globals are Walrus's global options, accepted before the command name (and, by the
// client commands, after it).
type globals struct {
	// tokens are the global flags as given, handed on to the command.
	tokens  []string
	version bool
	help    bool
}

// globalValueFlags take a value; globalBoolFlags do not.
var (
	globalValueFlags = []string{"config", "context", "wallet", "gas-budget"}
	globalBoolFlags  = []string{"json"}
)

// splitGlobals takes the global flags before the command name off args.
func splitGlobals(args []string) (globals, []string, error) {
	var g globals
	for len(args) > 0 {
		tok := args[0]
		if tok == "-V" || tok == "--version" || tok == "-version" {
			g.version = true
			args = args[1:]
			continue
		}
		if tok == "-h" || tok == "--help" || tok == "-help" {
			g.help = true
			args = args[1:]
			continue
		}
		if len(tok) < 2 || tok[0] != '-' {
			break
		}
		name, attached := flagName(tok)
		switch {
		case contains(globalBoolFlags, name):
			g.tokens = append(g.tokens, tok)
			args = args[1:]
		case contains(globalValueFlags, name) && attached:
			g.tokens = append(g.tokens, tok)
			args = args[1:]
		case contains(globalValueFlags, name):
			if len(args) < 2 {
				return g, nil, usagef("flag needs an argument: %s", tok)
			}
			g.tokens = append(g.tokens, "--"+name+"="+args[1])
			args = args[2:]
		default:
			return g, nil, usagef("unknown global flag %s (global flags: --config, --context, --wallet, --gas-budget, --json, --version)", tok)
		}
	}
	return g, args, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kebab turns a camelCase JSON key into a kebab-case flag name (blobObjId → blob-obj-id).
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r - 'A' + 'a')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// errJSONCommand is a JSON-mode command that cannot be turned into a command line.
var errJSONCommand = errors.New("JSON command")

func jsonErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf("%v: %s", errJSONCommand, fmt.Sprintf(format, args...))}
}
