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
	key, comment, _, ok = parseLineOptions(line)
	return key, comment, ok
}

// parseLineOptions is parseLine that also returns the line's options.
func parseLineOptions(line []byte) (key ssh.PublicKey, comment string, options []string, ok bool) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] == '#' {
		return nil, "", nil, false
	}
	key, comment, options, _, err := ssh.ParseAuthorizedKey(t)
	if err != nil {
		return nil, "", nil, false
	}
	return key, comment, options, true
}

// keyOptions returns the options of the line holding the first of keys
// that a line holds (nil keys are skipped), joined with commas as they are
// written, and ok false when no line holds any of them. When several lines
// hold the key, the first whose comment starts with prefix (the line this
// rotator installed for the secret) is preferred, else the first line.
// A cert-authority line is skipped: it does not let the key itself log in.
func keyOptions(content []byte, prefix string, keys ...ssh.PublicKey) (string, bool) {
	for _, want := range keys {
		if want == nil {
			continue
		}
		var found []string
		ok := false
		for _, line := range splitLines(content) {
			k, comment, opts, parsed := parseLineOptions(line)
			if !parsed || !sameKey(k, want) || hasOption(opts, "cert-authority") {
				continue
			}
			if strings.HasPrefix(comment, prefix) {
				return strings.Join(opts, ","), true
			}
			if !ok {
				found, ok = opts, true
			}
		}
		if ok {
			return strings.Join(found, ","), true
		}
	}
	return "", false
}

func hasOption(opts []string, name string) bool {
	for _, o := range opts {
		n, _, _ := strings.Cut(o, "=")
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// optionLine is the authorized_keys line for key with options (none when
// empty) and comment.
func optionLine(options string, key ssh.PublicKey, comment string) string {
	if options == "" {
		return authorizedLine(key, comment)
	}
	return options + " " + authorizedLine(key, comment)
}

// hasForeignLegacy reports whether a line's comment starts with legacy
// (the old marker of the secret's name) while its key is none of keys.
func hasForeignLegacy(content []byte, legacy string, keys []ssh.PublicKey) bool {
	for _, line := range splitLines(content) {
		if k, comment, ok := parseLine(line); ok && strings.HasPrefix(comment, legacy) && !keptKey(k, keys) {
			return true
		}
	}
	return false
}

// adoptLegacy rewrites the comment of every line whose comment starts with
// legacy and whose key is one of keys (keys the secret holds, so the line
// is certainly this secret's), replacing the legacy prefix with prefix and
// keeping the rest of the comment (the version id) and every other byte of
// the line. Lines with the legacy prefix holding other keys may be those of
// a secret of the same name in another account or region: they are left
// alone.
func adoptLegacy(content []byte, legacy, prefix string, keys []ssh.PublicKey) []byte {
	var out []byte
	for _, line := range splitLines(content) {
		k, comment, ok := parseLine(line)
		if ok && strings.HasPrefix(comment, legacy) && keptKey(k, keys) {
			body := bytes.TrimRight(line, " \t\r\n")
			if bytes.HasSuffix(body, []byte(comment)) {
				start := len(body) - len(comment)
				renamed := make([]byte, 0, len(line)+len(prefix))
				renamed = append(renamed, line[:start]...)
				renamed = append(renamed, prefix...)
				renamed = append(renamed, comment[len(legacy):]...)
				renamed = append(renamed, line[len(body):]...)
				line = renamed
			}
		}
		out = append(out, line...)
	}
	if out == nil && content != nil {
		out = []byte{}
	}
	return out
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
