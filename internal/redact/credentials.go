package redact

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// credentialWords mark a field name as naming a credential when the
// normalised name (lower case, without '_', '-', '.' and spaces) contains
// one of them. "pass" covers password and passphrase; "key" covers
// apikey, private_key and secret_access_key; "secret" covers
// client_secret.
var credentialWords = []string{"pass", "pwd", "secret", "token", "key", "private", "credential"}

// notSecretSuffixes mark a normalised field name as naming something that
// is not itself secret (an identifier, a name, an address, a kind or a
// size), even if it contains a credential word: keyId, secretArn,
// tokenUrl, token_type, key_name, passwordLength.
var notSecretSuffixes = []string{
	"id", "ids", "arn", "name", "alias", "url", "uri", "endpoint", "host", "port",
	"user", "username", "type", "format", "length", "region", "expiry", "expiresat", "expiration",
}

func normalise(k string) string {
	k = strings.ToLower(k)
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, k)
}

// notSecret reports whether a field name names something that is not
// secret, whatever it contains.
func notSecret(k string) bool {
	k = normalise(k)
	if strings.HasPrefix(k, "public") {
		return true
	}
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// IsCredentialField reports whether a JSON field name names a credential:
// its normalised form contains pass, pwd, secret, token, key, private or
// credential, and it neither starts with "public" nor ends in a suffix
// naming an identifier, a name, an address, a kind or a size (id, arn,
// name, url, host, user, type, length, ...).
func IsCredentialField(k string) bool {
	if notSecret(k) {
		return false
	}
	n := normalise(k)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Credential is one string of a secret value that must never appear in
// text.
type Credential struct {
	Value string
	// Field is the path of the field that holds it ("password",
	// "db.pwd", "keys[1]"), or "" for the whole value.
	Field string
	// Partial is set for credentials (runs of them count), and unset for
	// a whole JSON document.
	Partial bool
}

// Credentials returns what must never appear in text of a secret value:
// if it is a JSON object or array, every string or number held by a
// credential field (IsCredentialField) at any depth, including everything
// inside an object or array held by one, except fields that name something
// not secret (a user name under "credentials"); otherwise, or when no such
// credential of MinLen characters or more is found, the whole value.
// Values shorter than MinLen are left out.
//
// The whole value is left out when it holds a credential because every
// form of it (quoted, escaped, encoded) contains the same form of that
// credential: looking for the credential finds it, and redacting the
// credential leaves only what is not secret.
func Credentials(value []byte) []Credential {
	var out []Credential
	t := bytes.TrimSpace(value)
	structured := len(t) > 0 && (t[0] == '{' || t[0] == '[')
	if structured {
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			walk(v, "", false, func(path, s string) {
				if len(s) >= MinLen {
					out = append(out, Credential{Value: s, Field: path, Partial: true})
				}
			})
		}
	}
	if len(out) == 0 && len(value) >= MinLen {
		out = append(out, Credential{Value: string(value), Partial: !structured})
	}
	return out
}

// walk calls leaf for every string or number under v that is a
// credential: under is set inside a credential field. A leaf is a
// credential if its own field name, or one of a container above it, is a
// credential field, and its own name does not name something not secret.
func walk(v any, path string, under bool, leaf func(path, s string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			switch x.(type) {
			case map[string]any, []any:
				walk(x, p, under || IsCredentialField(k), leaf)
			default:
				walk(x, p, (under || IsCredentialField(k)) && !notSecret(k), leaf)
			}
		}
	case []any:
		for i, x := range v {
			walk(x, path+"["+strconv.Itoa(i)+"]", under, leaf)
		}
	case string:
		if under {
			leaf(path, v)
		}
	case json.Number:
		if under {
			leaf(path, v.String())
		}
	}
}
