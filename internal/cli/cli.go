// Package cli is the floe command tree. Each subcommand lives in its own file and is listed in
// commands(); Run maps every error to an exit code in one place.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// command is one floe subcommand.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name.
	run func(ctx context.Context, env *env, args []string) error
}

// env carries what every command may use: its output streams.
type env struct {
	stdout io.Writer
	stderr io.Writer
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
	}
}

// Run executes the floe command line args (without the program name) and returns the exit
// code: 0 on success, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return exitCode(stderr, c.name, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "floe: unknown command %q\n", args[0])
	printUsage(stderr, cmds)
	return 2
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
	fmt.Fprintln(w, "usage: floe <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	sorted := append([]command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("floe "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args, accepting flags after positional arguments too (floe blob-id FILE --json).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
