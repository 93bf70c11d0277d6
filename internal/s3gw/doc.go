// Package s3gw serves the S3 API over a Floe network (`floe s3`, and part of `floe devnet`).
//
// The protocol (routing, XML, ranges, conditional requests, multipart bookkeeping) is
// github.com/rclone/gofakes3's; this package is its storage backend, its authentication
// (SigV4 headers and presigned URLs verified with the library's signature package against
// the configured access keys, the signed payload SHA-256 and aws-chunked signatures and
// trailing checksums verified here as the body is read) and its index. A body's
// Content-MD5 is checked by the library's reader (which also computes the ETag) and its
// x-amz-checksum-* header by the gateway's (checkChecksum: the library checks none on
// UploadPart, and its checker would hide its MD5 reader on PutObject), both when the body's
// end is read, which the gateway reads before it stores a body's last chunk
// (chunkReader.end).
//
// Every bucket, object and chunk is a Floe blob object owned by the wallet of the access key
// that wrote it; the object's attributes on the control plane (records.go) name its bucket,
// key, ETag, size, write time and metadata. The control plane is thus the source of truth:
// each gateway keeps a local index (Pebble, index.go) that it rebuilds from the wallets'
// owned objects and keeps current by following the control plane's events (follow.go), so
// any number of gateways on the same wallets agree, and a gateway that restarts resumes from
// its saved cursor. Before serving a request a gateway waits until its index has applied
// every event the control plane had emitted (the read barrier), which makes a write through
// any gateway visible to the next request through any other.
//
// An object up to the chunk size (at most the network's largest blob) is one blob; a larger
// one, and every multipart upload, is a sequence of chunk blobs named by a manifest blob
// that carries the object's attributes. Parts are stored as chunk blobs as they arrive, so
// a part costs memory only while it is received and completion stores only the manifest.
// An overwrite stores the new object first, then deletes the replaced blob objects; two
// objects claiming one key (an overwrite in flight, or two gateways racing) resolve to the
// later write time (the control plane's block time once the blob is certified: one clock
// for every gateway), then the larger object ID, the same on every gateway.
//
// Batching small objects into quilts plugs in as a third layout: a record whose blob is a
// quilt and whose data is one patch of it (layoutBlob and layoutManifest are the two
// layouts today; readObject dispatches on the layout, and writeObject is where a batcher
// would collect small bodies before storing them as one quilt).
package s3gw
