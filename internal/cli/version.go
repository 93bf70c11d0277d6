package cli

import (
	"context"
	"runtime/debug"
)

func versionCommand() command {
	return command{name: "version", summary: "print floe's version (also floe --version)", run: runVersion}
}

// version is the module version (or "devel") and the VCS revision the binary was built from,
// as Walrus prints "walrus 1.38.0-1a2b3c4".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev != "" {
		v += "-" + rev + dirty
	}
	return v
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version")
	asJSON := fs.Bool("json", false, "print JSON: {\"version\": ...}")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]string{"version": version()})
	}
	_, err := e.stdout.Write([]byte("floe " + version() + "\n"))
	return err
}
