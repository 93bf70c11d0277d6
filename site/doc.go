// Package site publishes static websites on Floe and describes them for a portal, in the
// manner of Walrus Sites (spec §10).
//
// A site is a directory of files stored as quilt patches (package quilt), plus a manifest: a
// small JSON blob that maps every resource path ("/index.html") to the QuiltPatchId holding
// the file, the file's SHA-256 and size, and its HTTP headers (Content-Type from the file's
// extension, overridden by the headers of ws-resources.json), together with the site's
// routes (client-side routing, SPA fallback), redirects, name and metadata. ws-resources.json
// in the site's directory is read as Walrus's site-builder reads it (headers, routes,
// redirects, metadata, site_name, object_id, ignore) and is not published.
//
// Floe has no Sui objects and no dynamic fields. A site's identity is a blob object on the
// control plane owned by the publisher: the blob object of the site's first manifest, whose
// attribute AttrManifest ("_floeSiteManifest") names the blob ID of the site's current
// manifest. Attributes are mutable by the owner only (the control plane's SetAttributes
// operation), so the site's object ID stays the same while Update stores the files that
// changed in new quilts, stores a new manifest and points the attribute at it. A portal
// resolves a host name to the object ID (ObjectIDFromLabel: base36, as Walrus's portal),
// reads the attribute, fetches the manifest, resolves the path (Manifest.Resolve), fetches
// the patch and checks it against the manifest's SHA-256 before serving it.
//
// Everything in this package is pure computation over bytes and fs.FS, except Publish,
// Update and LoadManifest, which talk to the network through the client SDK.
package site
