package main

import (
	"bytes"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The functions here edit the content of an authorized_keys file. Every
// line they do not add or remove is kept byte for byte: comments, blank
// lines, options, lines they cannot parse and line endings.

// splitLines splits content into lines, each keeping its "\n".
func splitLines(content []byte) [][]byte {
	var lines [][]byte
	for len(content) > 0 {
		i := bytes.IndexByte(content, '\n')
		if i < 0 {
			lines = append(lines, content)
			break
		}
		lines = append(lines, content[:i+1])
		content = content[i+1:]
	}
	return lines
}

// parseLine returns the key and comment of an authorized_keys line, or ok
// false for a blank line, a comment or a line that is not a key.
func parseLine(line []byte) (key ssh.PublicKey, comment string, ok bool) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] == '#' {
		return nil, "", false
	}
	key, comment, _, _, err := ssh.ParseAuthorizedKey(t)
	if err != nil {
		return nil, "", false
	}
	return key, comment, true
}

// hasKey reports whether any line of content holds key, whatever its
// options or comment.
func hasKey(content []byte, key ssh.PublicKey) bool {
	for _, line := range splitLines(content) {
		if k, _, ok := parseLine(line); ok && sameKey(k, key) {
			return true
		}
	}
	return false
}

// addKey returns content with line appended, unless a line already holds
// key, in which case content is returned unchanged.
func addKey(content []byte, key ssh.PublicKey, line string) []byte {
	if hasKey(content, key) {
		return content
	}
	out := bytes.Clone(content)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(append(out, line...), '\n')
}

// removeStale returns content without the lines whose comment starts with
// prefix (installed by this rotator for this secret) and whose key is none
// of keep. Every other line stays.
func removeStale(content []byte, prefix string, keep []ssh.PublicKey) []byte {
	var out []byte
	for _, line := range splitLines(content) {
		if k, comment, ok := parseLine(line); ok && strings.HasPrefix(comment, prefix) && !keptKey(k, keep) {
			continue
		}
		out = append(out, line...)
	}
	if out == nil && content != nil {
		out = []byte{}
	}
	return out
}

func keptKey(k ssh.PublicKey, keep []ssh.PublicKey) bool {
	for _, x := range keep {
		if sameKey(k, x) {
			return true
		}
	}
	return false
}
