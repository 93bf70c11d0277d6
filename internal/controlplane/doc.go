// Package controlplane is Floe's control plane state machine: what Walrus keeps in its Sui
// contracts (spec §7) — accounts and balances, storage nodes and their stake, epochs with their
// committee and shard assignment, prices, storage resources and blobs — as one pure,
// deterministic state machine.
//
// It does no I/O and reads no clock: time enters only as block time. A driver (the embedded
// single-process driver, or an ABCI application on CometBFT) orders signed transactions into
// blocks and calls ApplyBlock, which returns each transaction's outcome, the events it emitted
// and the hash of the whole state after the block. The same transactions in the same blocks give
// the same state and the same hash in every run.
//
// # Records and the wire
//
// The state holds the state machine's own records (Account, Node, Stake, Storage, Blob,
// Committee), and only they are hashed into the app hash. The wire vocabulary, the signed
// transaction, events and query results, belongs to api/controlplane: the state machine
// decodes a transaction there and converts it into its own operations (OpFromAPI), and its
// queries and events convert its records into the wire's types (the API methods). So a field
// of the API can be renamed without changing the app hash, and the records can change (with
// a new state version) without changing the API.
//
// # Transactions
//
// A signed transaction on the wire is (api/controlplane's DecodeTx)
//
//	0x01 (version) || uvarint(len(payload)) || payload || ed25519 signature (64 bytes)
//
// where payload is the canonical JSON of api/controlplane's Tx (Go's encoding/json of the Tx
// struct: fields in declaration order, map keys sorted, no insignificant white space); a
// payload that does not re-encode to the same bytes is rejected, so every transaction has one
// encoding and one hash (Blake2b-256 of the wire bytes). The signature is over
// "floe-tx-v1:" || payload. Nonces are strictly sequential per account; a transaction that is
// well signed and carries the expected nonce consumes it even when its operation fails (so it
// can never be replayed later), and changes nothing else.
//
// # Decisions where Floe differs from Walrus
//
//   - Shards are apportioned by largest remainder (Hamilton), not D'Hondt: every member gets
//     within one shard of its exact stake-proportional quota, under Walrus's per-node cap
//     (spec §7.4: n/10 shards from 20 nodes, else ceil(20n / (10 nodes))); the shards a capped
//     node does not get are shared among the others the same way. Later epochs keep each
//     member's shards where they can and move only the surplus shards.
//   - Epoch 0 has no committee. The first epoch change (at genesis when initial nodes are given,
//     else when block time passes the epoch duration) picks the committee. Each epoch runs
//     Walrus's protocol (spec §7.4, epoch.go): EpochChangeStart at the first block whose time is
//     at least the epoch start plus the epoch duration (the new epoch starts at that block's
//     time); EpochChangeDone once members holding a quorum of the shards hold the shards they
//     gained (members that gained none count at once; the others send EpochSyncDone); voting
//     end, selecting the next committee, prices and capacity, in the middle of the epoch or at
//     EpochChangeDone if later. The escape of a change that no quorum ever completes: it is
//     declared done (Forced) when the next epoch is due, and the next epoch follows at once.
//   - Staking: a stake counts from the first epoch whose committee is not selected yet (the
//     next one before voting end, the one after it once voting ended); a withdrawal takes
//     effect (and the tokens return) at the change to the first epoch whose committee is not
//     selected yet. Rewards are paid when an epoch ends: the epoch's bucket of
//     storage and write fees is split over the committee by shards, the node's commission goes to
//     its owner and the rest to the stakes of the node pro rata; integer remainders go to the
//     node's owner or carry over to the next epoch's bucket.
//   - Prices and capacity are fixed for an epoch at its voting end (from the votes at that
//     time).
//   - The CometBFT validator set follows stake (validators.go): once members with validator
//     keys hold a quorum of the shards, the validators are exactly those members, with their
//     shards as voting power, updated at each epoch change.
//   - Expired blobs and storage resources stay queryable for one epoch after their end epoch,
//     then are removed.
//   - Any account may submit a certificate (certify a blob, invalidate a blob ID): the
//     certificate is the proof. Owners alone extend, delete, transfer or set attributes.
//   - RegisterBlob can buy its storage in the same transaction (StorageID zero, EpochsAhead
//     set); its result's Created lists the storage resource then the blob object, the storage
//     resource living on inside the blob.
//   - A BLS key can belong to one node only.
//   - There are no gas fees; spam is kept out at admission instead. CheckTx (CheckVerified,
//     used by the CometBFT driver's CheckTx and by both drivers' Submit) admits a transaction
//     only if its sender's account exists (has received tokens) and holds what the operation
//     pays at the current prices (the amount transferred or staked, the storage and write
//     fees), so transactions that could only fail for want of tokens, and transactions from
//     fresh keys, never reach a block. And since a proposer need not respect admission, a
//     transaction from a sender without an account that is included anyway and fails changes
//     nothing, not even a nonce: an account is never created from nothing by a failure.
//   - Certificate transactions (certify a blob, invalidate a blob ID, a member's EpochSyncDone
//     report signed with its BLS key, and later the challenge certificates) are exempt: storage nodes send them from accounts derived
//     from their BLS keys, which hold no tokens. Such a transaction is admitted from any
//     sender, account or not, if its certificate verifies against the current committee (the
//     signatures of a quorum, or of a validity threshold, of the shards), which no spammer can
//     forge; when it succeeds it creates its sender's account (with a nonce and no tokens).
//     Funding every node's derived account at genesis was the alternative; it would not cover
//     nodes that register later, and spends tokens on what the certificate already proves.
package controlplane
