package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// maxJSONCommand bounds a JSON command read from standard input.
const maxJSONCommand = 1 << 20

// runJSON is `floe json [JSON]`, Walrus's JSON mode: the global options at the root of a JSON
// object and the command in its "command" object, e.g.
//
//	{"config": "client_config.yaml", "command": {"store": {"files": ["a.txt"], "epochs": 5}}}
//
// Keys are the CLI's flag names in camelCase; the output is JSON, as with --json.
func runJSON(ctx context.Context, e *env, cmds []command, args []string) int {
	var src string
	switch len(args) {
	case 0:
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxJSONCommand+1))
		if err != nil {
			return exitCode(e.stderr, "json", fmt.Errorf("reading standard input: %w", err))
		}
		if len(b) > maxJSONCommand {
			return exitCode(e.stderr, "json", usagef("the JSON command is larger than %d bytes", maxJSONCommand))
		}
		src = string(b)
	case 1:
		src = args[0]
	default:
		return exitCode(e.stderr, "json", usagef("usage: floe json [JSON] (one argument, else standard input)"))
	}
	argv, err := jsonToArgv(src)
	if err != nil {
		return exitCode(e.stderr, "json", err)
	}
	g2, rest, err := splitGlobals(argv)
	if err != nil {
		return exitCode(e.stderr, "json", err)
	}
	if len(rest) == 0 || rest[0] == "json" {
		return exitCode(e.stderr, "json", jsonErr("no command to run"))
	}
	// Command-line flags other than the JSON are ignored, as Walrus does.
	return dispatch(ctx, e, cmds, g2, rest)
}

// jsonPositional names the keys that are positional arguments of a command, in order.
var jsonPositional = map[string][]string{
	"store":                        {"files"},
	"read":                         {"blobId"},
	"blob-id":                      {"file"},
	"convert-blob-id":              {"blobIdDecimal"},
	"get-blob-attribute":           {"blobObjId"},
	"set-blob-attribute":           {"blobObjId"},
	"remove-blob-attribute-fields": {"blobObjId"},
	"remove-blob-attribute":        {"blobObjId"},
	"list-patches-in-quilt":        {"quiltId"},
}

// jsonFlagNames maps the JSON keys whose flag is not their kebab-case form (Walrus's field
// names against its `long = ...` flag names).
var jsonFlagNames = map[string]string{
	"maxBodySizeKib":                 "max-body-size",
	"maxQuiltBodySizeKib":            "max-quilt-body-size",
	"publisherMaxRequestBufferSize":  "publisher-max-buffer-size",
	"publisherMaxConcurrentRequests": "publisher-max-concurrent-requests",
	"aggregatorMaxRequestBufferSize": "aggregator-max-buffer-size",
	"maxSize":                        "jwt-cache-size",
	"refresh_interval_secs":          "jwt-cache-refresh-interval",
	"attributes":                     "attr",
}

// jsonToArgv turns a JSON command into a command line: global flags, the command name, its
// flags, "--" and its positional arguments.
func jsonToArgv(src string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, jsonErr("%v", err)
	}
	if dec.More() {
		return nil, jsonErr("trailing data after the JSON object")
	}
	argv := []string{"--json"}
	var cmd any
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "config", "context", "wallet", "gasBudget":
			if v == nil {
				continue
			}
			s, err := scalar(k, v)
			if err != nil {
				return nil, err
			}
			argv = append(argv, "--"+kebab(k)+"="+s)
		case "json":
		case "command":
			cmd = v
		default:
			return nil, jsonErr("unknown key %q (want config, context, wallet, gasBudget, json, command)", k)
		}
	}
	var name string
	var opts map[string]any
	switch c := cmd.(type) {
	case string:
		name = c
	case map[string]any:
		if len(c) != 1 {
			return nil, jsonErr(`"command" must hold exactly one command, not %d`, len(c))
		}
		for k, v := range c {
			name = k
			if v != nil {
				o, ok := v.(map[string]any)
				if !ok {
					return nil, jsonErr("the options of %q must be an object", k)
				}
				opts = o
			}
		}
	default:
		return nil, jsonErr(`missing "command" object`)
	}
	name = kebab(name)
	if name == "json" {
		return nil, jsonErr("the json command cannot run itself")
	}
	rest, err := jsonOptions(name, opts)
	if err != nil {
		return nil, err
	}
	return append(append(argv, name), rest...), nil
}

// jsonOptions turns a command's JSON options into flags, "--" and positional arguments.
func jsonOptions(name string, opts map[string]any) ([]string, error) {
	var flags, positional []string
	pos := jsonPositional[name]
	for _, k := range sortedKeys(opts) {
		v := opts[k]
		if v == nil {
			continue
		}
		if contains(pos, k) {
			vals, err := values(k, v)
			if err != nil {
				return nil, err
			}
			positional = append(positional, vals...)
			continue
		}
		if name == "info" && k == "command" {
			switch sub := v.(type) {
			case string:
				positional = append(positional, kebab(sub))
			case map[string]any:
				if len(sub) != 1 {
					return nil, jsonErr("info: one subcommand")
				}
				for sk, sv := range sub {
					positional = append(positional, kebab(sk))
					o, _ := sv.(map[string]any)
					f, err := jsonOptions("info "+kebab(sk), o)
					if err != nil {
						return nil, err
					}
					flags = append(flags, f...)
				}
			default:
				return nil, jsonErr("info: bad subcommand")
			}
			continue
		}
		flag := jsonFlagNames[k]
		if flag == "" {
			flag = kebab(k)
		}
		if b, ok := v.(bool); ok {
			if b {
				flags = append(flags, "--"+flag)
			}
			continue
		}
		if flag == "blobs" {
			// store-quilt's blobs are objects in JSON mode, JSON strings on the command line.
			if a, ok := v.([]any); ok {
				for _, x := range a {
					if _, isObj := x.(map[string]any); !isObj {
						continue
					}
					b, err := json.Marshal(x)
					if err != nil {
						return nil, jsonErr("blobs: %v", err)
					}
					flags = append(flags, "--blobs="+string(b))
				}
				v = slices.DeleteFunc(slices.Clone(a), func(x any) bool { _, isObj := x.(map[string]any); return isObj })
			}
		}
		vals, err := values(k, v)
		if err != nil {
			return nil, err
		}
		if flag == "attr" || flag == "tag" {
			if len(vals)%2 != 0 {
				return nil, jsonErr("%s: key-value pairs, got %d strings", k, len(vals))
			}
			for i := 0; i < len(vals); i += 2 {
				flags = append(flags, "--"+flag, vals[i], vals[i+1])
			}
			continue
		}
		for _, s := range vals {
			flags = append(flags, "--"+flag+"="+s)
		}
	}
	if len(positional) > 0 {
		flags = append(flags, "--")
	}
	return append(flags, positional...), nil
}

// values returns a JSON value as command-line strings: one for a scalar, one per element for
// an array.
func values(key string, v any) ([]string, error) {
	if a, ok := v.([]any); ok {
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, err := scalar(key, x)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(key, v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalar returns a JSON scalar as a command-line string; a serde Duration ({"secs", "nanos"})
// becomes a Go duration.
func scalar(key string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		secs, ok1 := x["secs"].(json.Number)
		nanos, ok2 := x["nanos"].(json.Number)
		if ok1 && len(x) <= 2 && (ok2 || x["nanos"] == nil) {
			s, err1 := secs.Int64()
			var n int64
			var err2 error
			if ok2 {
				n, err2 = nanos.Int64()
			}
			if err1 == nil && err2 == nil {
				return (time.Duration(s)*time.Second + time.Duration(n)).String(), nil
			}
		}
	}
	return "", jsonErr("%q: unsupported value %v", key, v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
