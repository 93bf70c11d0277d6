// Package cli is the floe command tree. Each subcommand lives in its own file and is listed in
// commands(); Run maps every error to an exit code in one place.
//
// The client commands follow Walrus's CLI (crates/walrus-service/src/client/cli/args.rs):
// its command and flag names, its global flags before or after the command name
// (`floe --json store ...`), its JSON mode (`floe json '{"command": {...}}'`) and the JSON
// shapes of its --json output (walrusjson.go); the deliberate differences are listed in the
// README.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one floe subcommand.
type command struct {
	name    string
	summary string
	// aliases are other names of the command (Walrus's `write` for `store`).
	aliases []string
	// run executes the command with the arguments after its name.
	run func(ctx context.Context, e *env, args []string) error
}

// env carries what every command may use: its input and output streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// flagSets, if not nil, receives every flag set a command creates (shell completion
	// lists their flags).
	flagSets *[]*flag.FlagSet
}

// usageError marks a bad command line; it exits with code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// commands lists every subcommand. Add new ones here.
func commands() []command {
	return []command{
		blobIDCommand(),
		chainCommand(),
		walletCommand(),
		infoCommand(),
		nodeCommand(),
		devnetCommand(),
		publisherCommand(),
		aggregatorCommand(),
		daemonCommand(),
		storeCommand(),
		readCommand(),
		blobStatusCommand(),
		listBlobsCommand(),
		deleteCommand(),
		extendCommand(),
		s3Command(),
		convertBlobIDCommand(),
		healthCommand(),
		versionCommand(),
		completionCommand(),
		getBlobAttributeCommand(),
		setBlobAttributeCommand(),
		removeBlobAttributeFieldsCommand(),
		removeBlobAttributeCommand(),
		burnBlobsCommand(),
		shareCommand(),
		fundSharedBlobCommand(),
		storeQuiltCommand(),
		readQuiltCommand(),
		listPatchesCommand(),
		siteCommand(),
		portalCommand(),
		stakeCommand(),
		withdrawStakeCommand(),
	}
}

// Run executes the floe command line args (without the program name) and returns the exit
// code: 0 on success, 1 on failure, 2 on a usage error. Standard input is empty.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunIO(ctx, args, strings.NewReader(""), stdout, stderr)
}

// RunIO is Run with a standard input (`floe json` without an argument reads its command there,
// and confirmations are read from it).
func RunIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	cmds := commands()
	g, rest, err := splitGlobals(args)
	if err != nil {
		fmt.Fprintf(stderr, "floe: %v\n", err)
		return 2
	}
	switch {
	case g.version:
		fmt.Fprintln(stdout, "floe", version())
		return 0
	case g.help || len(rest) == 0 || rest[0] == "help":
		printUsage(stderr, cmds)
		if len(rest) == 0 && !g.help {
			return 2
		}
		return 0
	}
	if rest[0] == "json" {
		// Walrus ignores the other command-line options in JSON mode.
		return runJSON(ctx, e, cmds, rest[1:])
	}
	return dispatch(ctx, e, cmds, g, rest)
}

// dispatch runs the command named by rest[0] with the global flags handed on after its name.
func dispatch(ctx context.Context, e *env, cmds []command, g globals, rest []string) int {
	c, ok := findCommand(cmds, rest[0])
	if !ok {
		fmt.Fprintf(e.stderr, "floe: unknown command %q\n", rest[0])
		printUsage(e.stderr, cmds)
		return 2
	}
	args := append(append([]string(nil), g.tokens...), rest[1:]...)
	return exitCode(e.stderr, c.name, c.run(ctx, e, args))
}

func findCommand(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name || contains(c.aliases, name) {
			return c, true
		}
	}
	return command{}, false
}

func exitCode(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "floe %s: %v\n", name, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func printUsage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: floe [--config FILE] [--context NAME] [--wallet FILE] [--json] <command> [flags] [args]")
	fmt.Fprintln(w, "       floe json [JSON]        (the command as JSON, else read from standard input)")
	fmt.Fprintln(w, "       floe --version")
	fmt.Fprintln(w, "\ncommands:")
	sorted := append([]command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-28s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("floe "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if e.flagSets != nil {
		*e.flagSets = append(*e.flagSets, fs)
	}
	return fs
}
