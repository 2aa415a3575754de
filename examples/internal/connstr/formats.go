package connstr

import (
	"net/url"
	"slices"
	"strings"
)

type slotKind int

const (
	userSlot slotKind = iota + 1
	passwordSlot
)

// slot is where a credential sits in the string: s[start:end] holds the
// encoded value; value is it decoded; enc encodes a new value for that
// place.
type slot struct {
	start, end int
	kind       slotKind
	value      string
	enc        func(string) (string, error)
}

// str is a parsed connection string of any format.
type str struct {
	f     Format
	s     string
	slots []slot
	eps   []endpoint
	// allLibpqKeys: every key of a KeyValue string is a libpq keyword.
	allLibpqKeys bool
	// odbcPort is an ODBC Port= value, applied to every server.
	odbcPort int
}

func (p *str) format() Format           { return p.f }
func (p *str) endpoints() []endpoint    { return p.eps }
func (p *str) user() (string, bool)     { return p.find(userSlot) }
func (p *str) password() (string, bool) { return p.find(passwordSlot) }

func (p *str) find(k slotKind) (string, bool) {
	for _, sl := range p.slots {
		if sl.kind == k {
			return sl.value, true
		}
	}
	return "", false
}

// done checks that a value named twice is the same both times.
func (p *str) done() (parsed, error) {
	for _, k := range []slotKind{userSlot, passwordSlot} {
		first, ok := p.find(k)
		if !ok {
			continue
		}
		for _, sl := range p.slots {
			if sl.kind == k && sl.value != first {
				if k == userSlot {
					return nil, problem("names two different users")
				}
				return nil, problem("holds two different passwords")
			}
		}
	}
	slices.SortFunc(p.slots, func(a, b slot) int { return a.start - b.start })
	return p, nil
}

func (p *str) rewrite(user, password string) (string, error) {
	var b strings.Builder
	last := 0
	for _, sl := range p.slots {
		v := user
		if sl.kind == passwordSlot {
			v = password
		}
		enc, err := sl.enc(v)
		if err != nil {
			return "", err
		}
		b.WriteString(p.s[last:sl.start])
		b.WriteString(enc)
		last = sl.end
	}
	b.WriteString(p.s[last:])
	return b.String(), nil
}

// pctEncode percent-encodes every byte but letters, digits and -._~, which
// every URL parser reads back unchanged (in userinfo, path or query).
func pctEncode(s string) (string, error) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String(), nil
}

func pctDecode(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", problem("has an invalid percent-escape")
	}
	return v, nil
}

// parseURL reads scheme://[user[:password]@]host[:port][,host[:port]...][/path][?query][#fragment].
func parseURL(s string) (parsed, error) {
	i := strings.Index(s, "://")
	if i <= 0 || !isScheme(s[:i]) {
		return nil, problem("is not a URL (want scheme://host...)")
	}
	p := &str{f: URL, s: s}
	end, err := p.authority(i+3, "/?#")
	if err != nil {
		return nil, err
	}
	q := strings.IndexByte(s[end:], '?')
	if q >= 0 {
		qs := end + q + 1
		qe := len(s)
		if h := strings.IndexByte(s[qs:], '#'); h >= 0 {
			qe = qs + h
		}
		if err := p.params(qs, qe, "&", false, func(k string) slotKind {
			switch k {
			case "user":
				return userSlot
			case "password":
				return passwordSlot
			}
			return 0
		}); err != nil {
			return nil, err
		}
	}
	return p.done()
}

// authority parses the authority starting at s[start:], ending at the
// first byte of stops, and returns its end.
func (p *str) authority(start int, stops string) (int, error) {
	s := p.s
	end := len(s)
	if i := strings.IndexAny(s[start:], stops); i >= 0 {
		end = start + i
	}
	auth := s[start:end]
	hostStart := start
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		userinfo := auth[:at]
		hostStart = start + at + 1
		u, pw, hasPW := strings.Cut(userinfo, ":")
		if u != "" {
			v, err := pctDecode(u)
			if err != nil {
				return 0, err
			}
			p.slots = append(p.slots, slot{start, start + len(u), userSlot, v, pctEncode})
		}
		if hasPW {
			v, err := pctDecode(pw)
			if err != nil {
				return 0, err
			}
			ps := start + len(u) + 1
			p.slots = append(p.slots, slot{ps, ps + len(pw), passwordSlot, v, pctEncode})
		}
	}
	hosts := s[hostStart:end]
	if hosts != "" {
		for h := range strings.SplitSeq(hosts, ",") {
			if h == "" {
				continue
			}
			h, err := pctDecode(h)
			if err != nil {
				return 0, err
			}
			ep, err := splitHostPort(h)
			if err != nil {
				return 0, err
			}
			p.eps = append(p.eps, ep)
		}
	}
	return end, nil
}

// params reads key=value pairs in s[start:end] separated by any byte of
// seps; braces says whether {...} quoting is used (ODBC and SQL Server
// JDBC) instead of percent-encoding. kind maps a lower-cased key to the
// slot it fills, or 0.
func (p *str) params(start, end int, seps string, braces bool, kind func(string) slotKind) error {
	s := p.s
	i := start
	for i <= end {
		// One pair: key up to '='.
		j := i
		for j < end && !strings.ContainsRune(seps, rune(s[j])) && s[j] != '=' {
			j++
		}
		if j >= end || s[j] != '=' {
			// A key without a value (or an empty segment).
			if strings.TrimSpace(s[i:j]) != "" && braces {
				return problem("has a key without a value")
			}
			i = j + 1
			continue
		}
		key := strings.ToLower(strings.TrimSpace(s[i:j]))
		if !braces {
			var err error
			if key, err = pctDecode(key); err != nil {
				return err
			}
		}
		vs := j + 1
		var ve, next int
		var value string
		if braces {
			// Skip leading spaces; a value starting with '{' runs to the
			// '}' not followed by another '}'.
			k := vs
			for k < end && s[k] == ' ' {
				k++
			}
			if k < end && s[k] == '{' {
				var b strings.Builder
				m := k + 1
				closed := false
				for m < end {
					if s[m] == '}' {
						if m+1 < end && s[m+1] == '}' {
							b.WriteByte('}')
							m += 2
							continue
						}
						closed = true
						break
					}
					b.WriteByte(s[m])
					m++
				}
				if !closed {
					return problem("has an unterminated {braced} value")
				}
				ve = m + 1
				value = b.String()
				n := ve
				for n < end && s[n] == ' ' {
					n++
				}
				if n < end && !strings.ContainsRune(seps, rune(s[n])) {
					return problem("has text after a {braced} value")
				}
				next = n + 1
				vs = k
			} else {
				ve = vs
				for ve < end && !strings.ContainsRune(seps, rune(s[ve])) {
					ve++
				}
				next = ve + 1
				value = strings.TrimSpace(s[vs:ve])
			}
		} else {
			ve = vs
			for ve < end && !strings.ContainsRune(seps, rune(s[ve])) {
				ve++
			}
			next = ve + 1
			var err error
			if value, err = pctDecode(s[vs:ve]); err != nil {
				return err
			}
		}
		if sk := kind(key); sk != 0 {
			enc := pctEncode
			if braces {
				enc = braceQuote
			}
			p.slots = append(p.slots, slot{vs, ve, sk, value, enc})
		}
		if braces {
			if err := p.odbcHost(key, value); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}

// braceQuote writes v for a Key=Value; string: as is when it is plain,
// else in braces with '}' doubled.
func braceQuote(v string) (string, error) {
	if v != "" && !strings.ContainsAny(v, ";{}=") && strings.TrimSpace(v) == v {
		return v, nil
	}
	return "{" + strings.ReplaceAll(v, "}", "}}") + "}", nil
}

// odbcHost records the endpoints of ODBC and SQL Server JDBC keys.
func (p *str) odbcHost(key, value string) error {
	switch key {
	case "server", "host", "hostname", "address", "addr", "data source", "servername", "network address":
	case "port":
		port, err := parsePort(strings.TrimSpace(value))
		if err != nil {
			return err
		}
		for i := range p.eps {
			if p.eps[i].port == 0 {
				p.eps[i].port = port
			}
		}
		p.odbcPort = port
		return nil
	default:
		return nil
	}
	v := strings.TrimSpace(value)
	if len(v) >= 4 && strings.EqualFold(v[:4], "tcp:") {
		v = v[4:]
	}
	var ep endpoint
	if h, port, ok := strings.Cut(v, ","); ok {
		pn, err := parsePort(strings.TrimSpace(port))
		if err != nil {
			return err
		}
		ep = endpoint{strings.TrimSpace(h), pn}
	} else if h, _, ok := strings.Cut(v, `\`); ok {
		ep = endpoint{h, 0}
	} else {
		var err error
		if ep, err = splitHostPort(v); err != nil {
			return err
		}
	}
	if ep.port == 0 {
		ep.port = p.odbcPort
	}
	p.eps = append(p.eps, ep)
	return nil
}

func odbcKind(k string) slotKind {
	switch k {
	case "uid", "user id", "userid", "user", "username", "user name":
		return userSlot
	case "pwd", "password":
		return passwordSlot
	}
	return 0
}

// parseODBC reads Key=Value;Key={Value};...
func parseODBC(s string) (parsed, error) {
	p := &str{f: ODBC, s: s}
	if err := p.params(0, len(s), ";", true, odbcKind); err != nil {
		return nil, err
	}
	return p.done()
}

// braceProps reports whether a JDBC subprotocol quotes ;key=value
// properties with {braces} (Microsoft's SQL Server driver and jTDS) rather
// than percent-encoding them (Redshift's driver, as its documentation
// says, and the others).
func braceProps(sub string) bool {
	sub = strings.ToLower(sub)
	return strings.HasPrefix(sub, "sqlserver:") || strings.HasPrefix(sub, "jtds:")
}

// parseJDBC reads jdbc:<subprotocol>://authority[/path][?k=v&k=v][;k=v;k=v].
func parseJDBC(s string) (parsed, error) {
	if len(s) < 5 || !strings.EqualFold(s[:5], "jdbc:") {
		return nil, problem("is not a JDBC URL (want jdbc:<driver>://host...)")
	}
	i := strings.Index(s, "//")
	if i < 0 {
		return nil, problem("has a JDBC form this rotator cannot rewrite (want jdbc:<driver>://host...)")
	}
	for _, c := range []byte(s[5:i]) {
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != ':' && c != '+' && c != '-' && c != '.' {
			return nil, problem("has a JDBC form this rotator cannot rewrite (want jdbc:<driver>://host...)")
		}
	}
	if i == 5 || s[i-1] != ':' {
		return nil, problem("has a JDBC form this rotator cannot rewrite (want jdbc:<driver>://host...)")
	}
	p := &str{f: JDBC, s: s}
	end, err := p.authority(i+2, "/?;")
	if err != nil {
		return nil, err
	}
	kind := func(k string) slotKind {
		switch k {
		case "user", "username", "uid", "userid", "user id":
			return userSlot
		case "password", "pwd":
			return passwordSlot
		}
		return 0
	}
	rest := end
	if rest < len(s) && s[rest] == '/' {
		for rest < len(s) && s[rest] != '?' && s[rest] != ';' {
			rest++
		}
	}
	if rest < len(s) && s[rest] == '?' {
		qe := len(s)
		if err := p.params(rest+1, qe, "&;", false, kind); err != nil {
			return nil, err
		}
	} else if rest < len(s) && s[rest] == ';' {
		if !braceProps(s[5:i]) {
			// Redshift, pgjdbc and most drivers: ;key=value properties,
			// percent-encoded, separated by ';' or '&'.
			if err := p.params(rest+1, len(s), "&;", false, kind); err != nil {
				return nil, err
			}
			return p.done()
		}
		// SQL Server style properties: {braces}, not percent-encoding.
		// serverName= may name the host instead of the authority.
		q := &str{f: JDBC, s: s}
		if err := q.params(rest+1, len(s), ";", true, kind); err != nil {
			return nil, err
		}
		p.slots = append(p.slots, q.slots...)
		p.eps = append(p.eps, q.eps...)
	}
	return p.done()
}

// parseKeyValue reads a libpq conninfo string: key = value pairs separated
// by whitespace, values single-quoted or bare, backslash escaping the next
// character in both.
func parseKeyValue(s string) (parsed, error) {
	p := &str{f: KeyValue, s: s, allLibpqKeys: true}
	var hosts, hostaddrs, ports []string
	i := 0
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		ks := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[ks:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, problem("is not a key=value connection string (a key has no \"=\")")
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		vs := i
		var b strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '\'' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, problem("has an unterminated quoted value")
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(c)
				i++
			}
		}
		value := b.String()
		if !slices.Contains(libpqKeywords, key) {
			p.allLibpqKeys = false
		}
		switch key {
		case "user":
			p.slots = append(p.slots, slot{vs, i, userSlot, value, libpqQuote})
		case "password":
			p.slots = append(p.slots, slot{vs, i, passwordSlot, value, libpqQuote})
		case "host":
			hosts = strings.Split(value, ",")
		case "hostaddr":
			hostaddrs = strings.Split(value, ",")
		case "port":
			ports = strings.Split(value, ",")
		}
	}
	for _, list := range [][]string{hosts, hostaddrs} {
		for n, h := range list {
			if strings.HasPrefix(h, "/") || strings.HasPrefix(h, "@") {
				return nil, problem("points at a Unix socket, not the secret's \"host\"")
			}
			ep := endpoint{host: h}
			if len(ports) == 1 {
				ep.port, _ = parsePort(ports[0])
			} else if n < len(ports) {
				ep.port, _ = parsePort(ports[n])
			}
			p.eps = append(p.eps, ep)
		}
	}
	for _, pt := range ports {
		if _, err := parsePort(pt); err != nil {
			return nil, err
		}
	}
	return p.done()
}

// libpqQuote writes v as a conninfo value: single-quoted with \ and '
// escaped, unless it is non-empty and plain.
func libpqQuote(v string) (string, error) {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v, nil
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'", nil
}

// parseMySQLDSN reads go-sql-driver/mysql's
// [user[:password]@][net[(addr)]]/dbname[?params] the way its ParseDSN
// does: the last '/', the last '@' before it, the first ':' before that.
func parseMySQLDSN(s string) (parsed, error) {
	p := &str{f: MySQLDSN, s: s}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return nil, problem("is not a MySQL DSN (want user:password@tcp(host:port)/dbname)")
	}
	left := s[:i]
	j := strings.LastIndexByte(left, '@')
	if j >= 0 {
		k := strings.IndexByte(s[:j], ':')
		if k < 0 {
			k = j
		}
		if k > 0 {
			p.slots = append(p.slots, slot{0, k, userSlot, s[:k], mysqlUser})
		}
		if k < j {
			p.slots = append(p.slots, slot{k + 1, j, passwordSlot, s[k+1 : j], mysqlPassword})
		}
	}
	netaddr := left[j+1:]
	if o := strings.IndexByte(netaddr, '('); o >= 0 {
		if !strings.HasSuffix(netaddr, ")") {
			return nil, problem("is not a MySQL DSN (the address is not closed by \")\")")
		}
		network, addr := netaddr[:o], netaddr[o+1:len(netaddr)-1]
		if network != "tcp" && network != "tcp6" && network != "tcp4" {
			return nil, problem("does not connect over TCP to the secret's \"host\"")
		}
		ep, err := splitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ep.host != "" {
			p.eps = append(p.eps, ep)
		}
	}
	return p.done()
}

func mysqlUser(v string) (string, error) {
	if strings.Contains(v, ":") {
		return "", problem("cannot carry a user name with \":\" (a MySQL DSN has no escaping)")
	}
	return v, nil
}

func mysqlPassword(v string) (string, error) { return v, nil }

// libpqKeywords are the connection parameters libpq (and pgx) know.
var libpqKeywords = []string{
	"host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth", "channel_binding",
	"connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
	"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"replication", "gssencmode", "sslmode", "sslnegotiation", "sslcompression", "sslcert", "sslkey",
	"sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
	"ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version", "max_protocol_version",
	"krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs", "load_balance_hosts",
	"search_path", "statement_cache_capacity", "default_query_exec_mode",
}
