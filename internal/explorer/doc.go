// Package explorer is Floe's network explorer: a web page, served by the daemon under
// /explorer/, that shows what a newcomer asks first. Is every node up? Who holds which shards,
// with what stake? Which epoch is it and how far along? What does storage cost and how much is
// left? Where is my blob, is it readable, when does it expire? Is recovery running? And how
// stored bytes, store and read rates and latencies moved over the last hour.
//
// Everything shown is read from the network, never assumed: the control plane's API (info,
// committee, registered nodes, blob status and objects, accounts, events, challenges and
// accountability), each storage node's health route over its pinned TLS (node status, epoch, event progress, every owned
// shard's status: ready, in transfer, in recovery), the sliver status route (which shards hold
// a blob's primary sliver), and Prometheus metrics: the daemon's own registry and the nodes'
// /metrics endpoints named in Config.Targets. Run samples them every Interval into a ring
// buffer of History points (the charts). What a source did not say is shown as unknown. Storage
// challenges come from the control plane's challenge and accountability queries: each node's
// status in the current epoch's latest round, rounds passed and failed, rewards earned and
// withheld, stake slashed; and the network's reward pool and what challenges burnt.
//
// Pages are rendered on the server with html/template (every value escaped); charts are inline
// SVG computed on the server. One small script, served by the explorer itself, refreshes the
// live sections every few seconds by fetching the same page again; the page works without it.
// Nothing is loaded from elsewhere (it works offline), and every response carries a
// Content-Security-Policy that allows only the explorer's own script and stylesheet.
//
// Routes, under Config.Prefix (default /explorer):
//
//	GET /                       overview: epoch, prices, committee and nodes, recovery, charts, activity
//	GET /search?q=...           a blob ID, an object ID (blob, node, storage) or an owner address
//	GET /blob/{blob_id}         a blob's status, objects, expiry and readable shards
//	GET /object/{object_id}     a blob object, storage resource, node or stake
//	GET /owner/{address}        an account's balance, blobs and storage
//	GET /node/{node_id}         a node's health and the status of each of its shards
//	GET /api/snapshot           the overview as JSON
//	GET /api/history            the sampled points as JSON (null where unknown)
//	GET /static/...             the stylesheet and the script
package explorer
