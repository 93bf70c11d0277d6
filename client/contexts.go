package client

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// contextsFile is a configuration file holding several contexts, as Walrus's:
//
//	contexts:
//	  devnet: {control_plane_url: ..., wallet: ...}
//	  other: {...}
//	default_context: devnet
type contextsFile struct {
	Contexts       map[string]yaml.Node `yaml:"contexts"`
	DefaultContext string               `yaml:"default_context"`
}

// LoadConfigContext reads a configuration file that is either a single configuration (see
// LoadConfig) or a set of named contexts with a default_context, and returns the context
// named context (the default one if empty). Naming a context in a single-context file is an
// error.
func LoadConfigContext(path, context string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: reading config: %w", err)
	}
	var cf contextsFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if cf.Contexts == nil {
		if context != "" {
			return nil, fmt.Errorf("%w: %s has no contexts, but context %q was asked for", ErrInvalidConfig, path, context)
		}
		return parseConfig(b, path)
	}
	name := context
	if name == "" {
		name = cf.DefaultContext
	}
	if name == "" {
		return nil, fmt.Errorf("%w: %s has contexts but no default_context; name one with --context", ErrInvalidConfig, path)
	}
	node, ok := cf.Contexts[name]
	if !ok {
		names := make([]string, 0, len(cf.Contexts))
		for n := range cf.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w: %s has no context %q (it has %s)", ErrInvalidConfig, path, name, strings.Join(names, ", "))
	}
	sub, err := yaml.Marshal(&node)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: context %q: %w", ErrInvalidConfig, path, name, err)
	}
	return parseConfig(sub, path)
}
