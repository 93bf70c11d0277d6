// Package multihost tests Floe on several "hosts": Linux network namespaces joined by a
// bridge, each with its own IP, running the control plane (CometBFT validators), storage nodes
// and the daemon with the commands of docs/operator.md, with latency and loss between
// "regions" injected by internal/netem. It has only tests (run with -netns, as root).
package multihost
