//go:build !amd64 || purego

package crc32c

// useFold is false: this build folds nothing, hash/crc32 does all the work.
var useFold = false

func fold(crc uint32, b []byte) uint32 { panic("crc32c: fold without assembly") }
