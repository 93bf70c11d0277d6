module github.com/floelabs/floe

go 1.26.8

require (
	github.com/supranational/blst v0.3.17 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
