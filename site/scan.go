package site

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// File is a file of a site directory, as Scan finds it.
type File struct {
	// Path is the resource path: "/" + the file's slash-separated path in the directory.
	Path string
	// Name is the file's path in the directory's fs.FS (Path without the leading slash).
	Name    string
	Size    int64
	SHA256  Hash
	Headers map[string]string
}

// Scan walks a site directory and returns its files in path order, each with its SHA-256 and
// headers: content-type from the extension (ContentType), then the headers ws-resources.json
// gives for its path (lower-cased names, overriding). It skips ws-resources.json at the root
// and the paths ws.Ignore matches, reads every file once, and refuses what is not a regular
// file (symbolic links to regular files are followed), paths that are not valid resource
// paths, and files larger than MaxFileSize. ws may be nil.
func Scan(fsys fs.FS, ws *WSResources) ([]File, error) {
	if ws == nil {
		ws = &WSResources{}
	}
	var files []File
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if name == ResourcesFile {
			return nil
		}
		p := "/" + name
		if ignored(ws.Ignore, p) {
			return nil
		}
		if err := ValidatePath(p); err != nil {
			return err
		}
		fi, err := fs.Stat(fsys, name) // follows a symbolic link
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("site: %s is not a regular file (%s)", p, fi.Mode().Type())
		}
		if fi.Size() > MaxFileSize {
			return fmt.Errorf("site: %s: %d bytes, the largest file a site holds is %d", p, fi.Size(), int64(MaxFileSize))
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("site: reading %s: %w", p, err)
		}
		file := File{Path: p, Name: name, Size: n, Headers: map[string]string{"content-type": ContentType(p)}}
		copy(file.SHA256[:], h.Sum(nil))
		for k, v := range ws.Headers[p] {
			file.Headers[strings.ToLower(k)] = v
		}
		files = append(files, file)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// contentTypes maps lower-case file extensions to media types. The table is built in (not the
// system's mime.types) so that the same directory gives the same manifest on every machine.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".cjs": "text/javascript; charset=utf-8",
	".json": "application/json", ".map": "application/json", ".jsonld": "application/ld+json",
	".webmanifest": "application/manifest+json", ".xml": "application/xml",
	".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".ics": "text/calendar; charset=utf-8",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".ico": "image/vnd.microsoft.icon",
	".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".eot": "application/vnd.ms-fontobject",
	".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg",
	".flac": "audio/flac", ".m4a": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/opus",
	".mp4": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg", ".mov": "video/quicktime",
	".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
	".tar": "application/x-tar", ".wasm": "application/wasm", ".rss": "application/rss+xml",
	".atom": "application/atom+xml", ".yaml": "application/yaml", ".yml": "application/yaml",
	".toml": "application/toml",
}

// ContentType returns the media type of a resource path from its extension (case-insensitive),
// application/octet-stream when the extension is unknown.
func ContentType(p string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(p))]; ok {
		return t
	}
	return "application/octet-stream"
}
