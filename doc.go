// Package rotation is a library for writing AWS Secrets Manager rotation
// functions in Go.
package rotation
