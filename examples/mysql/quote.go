package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MySQL accepts no placeholders in account statements: CREATE USER,
// ALTER USER, SET PASSWORD, GRANT and SHOW GRANTS take account names and
// passwords only as literals (checked on MariaDB 10.11, where
// "ALTER USER u@h IDENTIFIED BY ?" and "CREATE USER ?@?" are syntax
// errors, and documented so for MySQL). So this file writes them:
//
//   - account names as backtick-quoted identifiers, `user`@`host`, with
//     backticks doubled. Inside backticks a backslash is an ordinary
//     character and ANSI_QUOTES changes nothing, so the quoting is the same
//     in every sql_mode;
//   - passwords as single-quoted string literals, escaped for the
//     session's sql_mode: with NO_BACKSLASH_ESCAPES a backslash is an
//     ordinary character and only ' is doubled; otherwise \ and ' and the
//     characters MySQL's own escaper handles are backslash-escaped.
//
// Values that MySQL would silently change are refused instead (see
// checkAccountPart), so what is rotated is exactly what the secret names.

// errUnquotable means a user or host name cannot be written safely, or
// would not survive the server unchanged.
var errUnquotable = errors.New("cannot be used as a MySQL account name")

// checkAccountPart refuses a user or host name that MySQL cannot store
// as given: empty, NUL or other control characters, characters outside
// the Basic Multilingual Plane (mysql.user is utf8mb3: MariaDB turns them
// into '?' without an error), invalid UTF-8, and leading or trailing
// spaces (trimmed from identifiers, so another account would be meant).
func checkAccountPart(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s %w: it is empty", what, errUnquotable)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %w: it is not valid UTF-8", what, errUnquotable)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s %w: it starts or ends with white space, which MySQL trims", what, errUnquotable)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s %w: it contains a control character", what, errUnquotable)
		}
		if r > 0xFFFF {
			return fmt.Errorf("%s %w: it contains a character outside the Basic Multilingual Plane (such as an emoji), which mysql.user cannot hold", what, errUnquotable)
		}
	}
	return nil
}

// quoteIdent returns s as a backtick-quoted identifier.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// account returns the account name `user`@`host`, after checking both
// parts.
func account(user, host string) (string, error) {
	if err := checkAccountPart("user name", user); err != nil {
		return "", err
	}
	// The empty host is a valid account part in MySQL (it means any
	// host); only refuse what cannot be written.
	if host != "" {
		if err := checkAccountPart("host name", host); err != nil {
			return "", err
		}
	}
	return quoteIdent(user) + "@" + quoteIdent(host), nil
}

// quoteString returns s as a single-quoted string literal for a session
// whose sql_mode has (noBackslashEscapes) or lacks NO_BACKSLASH_ESCAPES.
// It refuses NUL, which neither form can carry safely, and invalid UTF-8.
func quoteString(s string, noBackslashEscapes bool) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("a value to quote contains a NUL character")
	}
	if !utf8.ValidString(s) {
		return "", errors.New("a value to quote is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && noBackslashEscapes:
			b.WriteString("''")
		case noBackslashEscapes:
			b.WriteByte(c)
		case c == '\'':
			b.WriteString(`\'`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// sqlMode is what this package needs to know of a session's sql_mode.
type sqlMode struct {
	noBackslashEscapes bool // NO_BACKSLASH_ESCAPES: '\' is ordinary in strings
	ansiQuotes         bool // ANSI_QUOTES: "..." is an identifier, not a string
}

func parseSQLMode(s string) sqlMode {
	var m sqlMode
	for _, f := range strings.Split(strings.ToUpper(s), ",") {
		switch strings.TrimSpace(f) {
		case "NO_BACKSLASH_ESCAPES":
			m.noBackslashEscapes = true
		case "ANSI_QUOTES", "ANSI":
			m.ansiQuotes = true
		}
	}
	return m
}

// --- SHOW GRANTS rewriting ---
//
// A SHOW GRANTS line names the account it was asked for; to give the
// alternate user the base user's privileges, each line is re-executed
// with that account replaced. Replacing text would be unsafe (a database
// or role may be named like the account), so the line is tokenized the
// way the server wrote it (in the same session, so with the same
// sql_mode), the grantee is found structurally (the account after the
// top-level TO, FROM or FOR keyword), decoded and checked to be exactly
// the account asked for, and only that span is replaced by the
// alternate's account, quoted by account. A line of any other shape is
// refused, never executed.

type tokKind int

const (
	tokWord   tokKind = iota // bare word or number
	tokIdent                 // `quoted` (or "quoted" under ANSI_QUOTES)
	tokString                // 'quoted' (or "quoted" without ANSI_QUOTES)
	tokPunct                 // any other single character
)

type token struct {
	kind       tokKind
	start, end int    // byte span in the line
	val        string // decoded value; upper-cased for words
}

// errGrantShape means a SHOW GRANTS line has a shape this rotator does
// not rewrite; the line is not executed.
var errGrantShape = errors.New("unexpected SHOW GRANTS line")

func tokenize(line string, mode sqlMode) ([]token, error) {
	var toks []token
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '"' && mode.ansiQuotes:
			val, end, err := scanQuoted(line, i, false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokIdent, i, end, val})
			i = end
		case c == '\'' || c == '"':
			val, end, err := scanQuoted(line, i, !mode.noBackslashEscapes)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, i, end, val})
			i = end
		case isWordByte(c):
			j := i
			for j < len(line) && isWordByte(line[j]) {
				j++
			}
			toks = append(toks, token{tokWord, i, j, strings.ToUpper(line[i:j])})
			i = j
		case c == ';' || c == '#' || c == '-' && strings.HasPrefix(line[i:], "--") || c == '/' && strings.HasPrefix(line[i:], "/*"):
			return nil, fmt.Errorf("%w: it contains a statement separator or a comment", errGrantShape)
		case c >= 0x80:
			return nil, fmt.Errorf("%w: it contains an unquoted non-ASCII character", errGrantShape)
		default:
			toks = append(toks, token{tokPunct, i, i + 1, string(c)})
			i++
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

// scanQuoted reads the quoted token starting at line[i] (its quote
// character ends it; a doubled quote stands for one) and returns the
// decoded value and the index after the closing quote. With backslash,
// backslash escapes are decoded as MySQL does in string literals.
func scanQuoted(line string, i int, backslash bool) (string, int, error) {
	q := line[i]
	var b strings.Builder
	j := i + 1
	for j < len(line) {
		c := line[j]
		switch {
		case c == q && j+1 < len(line) && line[j+1] == q:
			b.WriteByte(q)
			j += 2
		case c == q:
			return b.String(), j + 1, nil
		case c == '\\' && backslash && j+1 < len(line):
			switch n := line[j+1]; n {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'Z':
				b.WriteByte(0x1a)
			case '%', '_':
				// MySQL keeps the backslash of \% and \_.
				b.WriteByte('\\')
				b.WriteByte(n)
			default:
				b.WriteByte(n)
			}
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, fmt.Errorf("%w: an unterminated quoted name or string", errGrantShape)
}

// grantLine is a parsed SHOW GRANTS line.
type grantLine struct {
	line string
	toks []token
	verb string // "GRANT", "REVOKE" or "SET DEFAULT ROLE"
	// acct is the token range [acctFrom, acctTo) of the grantee.
	acctFrom, acctTo int
	// on is the index of the top-level ON keyword before the grantee, or
	// -1 (a role grant).
	on int
	// identFrom, identTo is the token range of an IDENTIFIED clause after
	// the grantee (MariaDB shows the password hash there), or 0, 0.
	identFrom, identTo int
}

// topLevelKeyword returns the index of the first word keyword outside
// parentheses, and of the first ON outside parentheses before it; -1 for
// either that is not there.
func topLevelKeyword(toks []token, keyword string) (on, kw int) {
	on, depth := -1, 0
	for i, t := range toks {
		if t.kind == tokPunct {
			switch t.val {
			case "(":
				depth++
			case ")":
				depth--
			}
			continue
		}
		if t.kind != tokWord || depth != 0 {
			continue
		}
		if t.val == "ON" && on < 0 {
			on = i
		}
		if t.val == keyword {
			return on, i
		}
	}
	return on, -1
}

// parseGrant parses line and checks that its grantee is user@host.
func parseGrant(line string, mode sqlMode, user, host string) (*grantLine, error) {
	toks, err := tokenize(line, mode)
	if err != nil {
		return nil, err
	}
	g := &grantLine{line: line, toks: toks, on: -1}
	var keyword string
	switch {
	case len(toks) > 0 && toks[0].kind == tokWord && toks[0].val == "GRANT":
		g.verb, keyword = "GRANT", "TO"
	case len(toks) > 0 && toks[0].kind == tokWord && toks[0].val == "REVOKE":
		g.verb, keyword = "REVOKE", "FROM"
	case len(toks) > 2 && toks[0].val == "SET" && toks[1].val == "DEFAULT" && toks[2].val == "ROLE" &&
		toks[0].kind == tokWord && toks[1].kind == tokWord && toks[2].kind == tokWord:
		g.verb, keyword = "SET DEFAULT ROLE", "FOR"
	default:
		return nil, fmt.Errorf("%w: it is not a GRANT, REVOKE or SET DEFAULT ROLE statement", errGrantShape)
	}
	on, kw := topLevelKeyword(toks, keyword)
	if kw < 0 {
		return nil, fmt.Errorf("%w: no %s keyword before the account", errGrantShape, keyword)
	}
	if g.verb != "SET DEFAULT ROLE" {
		g.on = on
	}
	// The grantee: a quoted user, '@', a quoted host.
	i := kw + 1
	if i+2 >= len(toks) {
		return nil, fmt.Errorf("%w: no account after %s", errGrantShape, keyword)
	}
	u, at, h := toks[i], toks[i+1], toks[i+2]
	if u.kind != tokIdent && u.kind != tokString || at.kind != tokPunct || at.val != "@" || h.kind != tokIdent && h.kind != tokString {
		return nil, fmt.Errorf("%w: the account after %s is not a quoted user@host", errGrantShape, keyword)
	}
	if at.start != u.end || h.start != at.end {
		return nil, fmt.Errorf("%w: the account after %s is not written as user@host", errGrantShape, keyword)
	}
	if u.val != user || !strings.EqualFold(h.val, host) {
		return nil, fmt.Errorf("%w: it names another account than the one asked for", errGrantShape)
	}
	g.acctFrom, g.acctTo = i, i+3
	rest := g.acctTo
	if rest < len(toks) && toks[rest].kind == tokPunct && toks[rest].val == "," {
		return nil, fmt.Errorf("%w: it names more than one account", errGrantShape)
	}
	if g.verb != "GRANT" && rest != len(toks) {
		return nil, fmt.Errorf("%w: text follows the account", errGrantShape)
	}
	// MariaDB appends the credential: IDENTIFIED BY PASSWORD '<hash>' or
	// IDENTIFIED VIA <plugin> [USING '<string>'] [OR ...]. It is the base
	// user's and must not be copied; REQUIRE and WITH clauses are kept.
	if rest < len(toks) && toks[rest].kind == tokWord && toks[rest].val == "IDENTIFIED" {
		j := rest + 2 // IDENTIFIED and BY, VIA or WITH
		for j < len(toks) && !(toks[j].kind == tokWord && (toks[j].val == "REQUIRE" || toks[j].val == "WITH")) {
			j++
		}
		g.identFrom, g.identTo = rest, j
	}
	return g, nil
}

// text returns the line with the grantee replaced by acct and any
// IDENTIFIED clause removed.
func (g *grantLine) text(acct string) string {
	var b strings.Builder
	b.WriteString(g.line[:g.toks[g.acctFrom].start])
	b.WriteString(acct)
	pos := g.toks[g.acctTo-1].end
	if g.identTo > g.identFrom {
		b.WriteString(g.line[pos:g.toks[g.identFrom].start])
		pos = len(g.line)
		if g.identTo < len(g.toks) {
			pos = g.toks[g.identTo].start
		}
	}
	b.WriteString(g.line[pos:])
	return strings.TrimSpace(b.String())
}

// roles returns the role list of a role grant (GRANT roles TO acct) or
// of SET DEFAULT ROLE, whitespace-normalized, or "" for other lines.
func (g *grantLine) roles() string {
	var from int
	switch {
	case g.verb == "GRANT" && g.on < 0:
		from = g.toks[0].end
	case g.verb == "SET DEFAULT ROLE":
		from = g.toks[2].end
	default:
		return ""
	}
	return strings.Join(strings.Fields(g.line[from:g.toks[g.acctFrom-1].start]), " ")
}

// normalized is the line with a neutral grantee, for comparing the base
// user's grants with the alternate's.
func (g *grantLine) normalized() string {
	return strings.Join(strings.Fields(g.text("<grantee>")), " ")
}

// revoke returns the statement that takes away from acct what this line
// grants, or "" when there is nothing to revoke (USAGE, SET DEFAULT ROLE,
// REVOKE lines of partial revokes).
func (g *grantLine) revoke(acct string) string {
	if g.verb != "GRANT" {
		return ""
	}
	grantOption := false
	for i := g.acctTo; i+2 < len(g.toks); i++ {
		if g.toks[i].val == "WITH" && g.toks[i+1].val == "GRANT" && g.toks[i+2].val == "OPTION" {
			grantOption = true
		}
	}
	if g.on < 0 {
		// GRANT role[, role] TO acct [WITH ADMIN OPTION]
		return "REVOKE " + strings.TrimSpace(g.line[g.toks[0].end:g.toks[g.acctFrom-1].start]) + " FROM " + acct
	}
	privs := strings.TrimSpace(g.line[g.toks[0].end:g.toks[g.on].start])
	object := strings.TrimSpace(g.line[g.toks[g.on].end:g.toks[g.acctFrom-1].start])
	switch {
	case strings.EqualFold(privs, "PROXY"):
		return "REVOKE PROXY ON " + object + " FROM " + acct
	case strings.EqualFold(privs, "USAGE"):
		if !grantOption {
			return ""
		}
		privs = "GRANT OPTION"
	case grantOption:
		privs += ", GRANT OPTION"
	}
	return "REVOKE " + privs + " ON " + object + " FROM " + acct
}
