// Package devnet runs a whole local Floe network on 127.0.0.1: the control plane, storage
// nodes and the publisher/aggregator daemon, each as its own OS process, for `floe devnet` and
// for end-to-end tests. This file set provides the process supervision: starting children with
// their logs in files, waiting until they answer, restarting them with the exact argv recorded
// in devnet.json, and stopping them cleanly.
package devnet
