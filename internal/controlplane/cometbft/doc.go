// Package cometbft runs Floe's control-plane state machine, unchanged, as an ABCI++
// application on CometBFT (v0.38): one validator per operator, tolerating up to a third of the
// voting power down or Byzantine. Node runs a CometBFT node in-process with the application
// and implements cpserver.Backend, so every validator serves the same control-plane API as the
// embedded driver: Submit passes a transaction to the local mempool and waits for its outcome
// in a committed block, View and Events read the local state.
//
// # The application
//
// CheckTx admits a transaction with the state machine's VerifyTx and CheckVerified (encoding,
// signature, chain, unused nonce, and that it can pay or carries a verifying certificate);
// rechecks after each block evict transactions whose nonce a
// block used, and tell their submitters. FinalizeBlock applies the decided block with
// ApplyVerifiedBlock (signatures verified at admission are not verified again) at the block's
// height and BFT time; Commit publishes it and returns the state hash as the app hash, so
// validators that diverge stop at once. Info reports the last committed height and hash, and
// CometBFT replays the blocks after it on restart. Query answers "/info", "/account/ADDRESS"
// and "/blob_status/BLOB_ID".
//
// # Data layout
//
// A validator's home directory (written by InitNetwork, `floe chain init`):
//
//	config/config.toml              CometBFT configuration: P2P address, persistent peers,
//	                                consensus timeouts (LANTimeouts by default; raise them for
//	                                a WAN), mempool size. Edit it to change them.
//	config/genesis.json             CometBFT genesis: validators and their power; app_state
//	                                is the Floe genesis (controlplane.Genesis as JSON).
//	config/node_key.json            P2P identity.
//	config/priv_validator_key.json  consensus key; data/priv_validator_state.json guards
//	                                against double signing.
//	data/blockstore.db, state.db    CometBFT's blocks and consensus state (goleveldb);
//	data/cs.wal/                    its consensus write-ahead log.
//	data/floe/snapshot.json         the Floe state after a committed block (height, app hash,
//	                                state), written every Options.SnapshotInterval blocks and
//	                                on Close (temp file, fsync, rename).
//	data/floe/events/               the events (package eventlog: segments of CRC-checked
//	                                records, one per block), appended at each commit, fsync'd
//	                                before each snapshot, pruned behind it.
//	data/floe/statesync/            hard links to the two newest snapshots, offered to peers
//	                                that state-sync.
//
// On start the application loads the snapshot (checked against its app hash), keeps the
// events up to it, and tells CometBFT its height; CometBFT replays its blocks after that height
// through FinalizeBlock, each checked against the app hash the chain agreed on. Nothing else
// needs to be durable: a kill -9 loses at most the blocks since the snapshot, which CometBFT
// still holds.
//
// # Pruning and state sync
//
// Commit returns a retain height: CometBFT keeps the newest Options.RetainBlocks blocks (so
// a validator that was down can catch up from its peers by block sync) and never prunes a
// block after the last snapshot (so a restart can replay it). After each snapshot the events
// older than both the snapshot and the newest Options.RetainEvents are pruned; a follower
// asking for them gets 410 events_pruned and catches up from the state listing.
//
// A node that fell behind the blocks its peers retain cannot block-sync; it state-syncs
// instead. The application offers its two newest snapshots over ABCI (ListSnapshots,
// LoadSnapshotChunk: snapshot.json in 4 MiB chunks, hashed with Blake2b-256), and a node with
// no state restores one (OfferSnapshot, ApplySnapshotChunk), checking it against the app hash
// CometBFT's light client verified for its height, then block-syncs from there. The node is
// prepared with PrepareStateSync (it wipes the node's blocks and Floe data, keeps its keys and
// double-signing guard, and turns state sync on with two RPC servers and a trusted height and
// header hash from TrustPoint); validators serve CometBFT's RPC for it when
// NetworkConfig.RPCPorts is set. Its event history starts at the restored snapshot.
//
// # Empty blocks
//
// The state hash covers the block height and time, so every block changes it and CometBFT
// proposes the next block after timeout_commit whether or not transactions wait; this also
// makes epoch changes happen on time. With the LAN timeouts that is a few blocks a second.
//
// # Shutdown
//
// CometBFT's Stop closes its databases while some of its goroutines can still use them, which
// panics ("leveldb: closed"); some per-peer routines even outlive the node's Wait. Node.Close
// stops the node, waits for it, and only then closes the databases (CometBFT's own Close calls
// are ignored); after that, what stray goroutines still do finds nothing and writes nothing,
// as if the process had stopped there. Then it writes a snapshot. During shutdown CometBFT's
// log records are demoted to debug (its services report each other's stopping as errors).
package cometbft
