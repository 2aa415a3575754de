package main

// An in-memory model of Oracle's password semantics, behind
// database/sql/driver, so the rotator runs its real code (database/sql,
// the statements it builds, the go-ora URL it builds, which the model
// reads with go-ora's own parser) against something that enforces what a
// server would:
//
//   - a user logs in with its current password only (user names as
//     stored: unquoted names upper-cased);
//   - ALTER USER ... IDENTIFIED BY as the user itself: REPLACE must be the
//     current password (ORA-28008), and with a password-verify function
//     in the profile it is required (ORA-28221); the verify function
//     (ORA12C_VERIFY_FUNCTION's rules) is enforced;
//   - without REPLACE, ALTER USER needs the ALTER USER privilege;
//     CREATE USER, GRANT and the DBA_* views need the admin;
//   - identifiers and passwords are parsed with Oracle's quoting (no
//     escape for '"'), and over-long ones fail (ORA-00972);
//   - TCPS: every connection does a TLS handshake against the model's
//     certificate with the tls.Config the rotator gave the driver.

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/sijms/go-ora/v2/configurations"
)

type oUser struct {
	name, password      string
	admin               bool // ALTER USER, CREATE USER, GRANT ANY ...: the RDS master user
	profile, tablespace string
	grants              []grant
}

type model struct {
	host    string
	port    int
	service string
	cert    tls.Certificate
	// compatible is COMPATIBLE: "19.0.0" (128-byte names) or "12.1.0.2".
	compatible string
	// verify: the profiles have a password-verify function.
	verify bool

	mu        sync.Mutex
	users     map[string]*oUser // by stored name
	log       []string          // DDL executed, passwords replaced by "<pw>"
	plaintext int
	changes   int
}

func newModel(host string, cert tls.Certificate) *model {
	return &model{host: host, port: 2484, service: "ORCL", cert: cert, compatible: "19.0.0", verify: true, users: map[string]*oUser{}}
}

func (m *model) addUser(name, password string, admin bool) *oUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := &oUser{name: name, password: password, admin: admin, profile: "DEFAULT", tablespace: "USERS"}
	m.users[name] = u
	return u
}

func (m *model) nameLimit() int { return nameLimitFor(m.compatible) }

// authenticate is the model's login check, used by connections and the
// fixtures' Probe.
func (m *model) authenticate(user, password, service string) (*oUser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !strings.EqualFold(service, m.service) {
		return nil, errors.New("ORA-12514: TNS:listener does not currently know of service requested in connect descriptor")
	}
	u, ok := m.users[storedName(user)]
	if !ok || u.password != password {
		return nil, errors.New("ORA-01017: invalid username/password; logon denied")
	}
	return u, nil
}

// verifyPassword is ORA12C_VERIFY_FUNCTION's rule set: 8 characters or
// more, a letter, a digit, not the user name (or reversed), the service
// name or "oracle", and differing from the old
// password in at least 3 characters.
func verifyPassword(user, pw, old string) error {
	rev := []rune(strings.ToUpper(user))
	slices.Reverse(rev)
	up := strings.ToUpper(pw)
	if len(pw) < 8 || strings.IndexFunc(pw, unicode.IsLetter) < 0 || strings.IndexFunc(pw, unicode.IsDigit) < 0 ||
		strings.Contains(up, strings.ToUpper(user)) || strings.Contains(up, string(rev)) || strings.Contains(up, "ORACLE") || strings.Contains(up, "ORCL") {
		return errors.New("ORA-28003: password verification for the specified password failed")
	}
	if old != "" {
		diff := 0
		for i := 0; i < len(pw) || i < len(old); i++ {
			if i >= len(pw) || i >= len(old) || pw[i] != old[i] {
				diff++
			}
		}
		if diff < 3 {
			return errors.New("ORA-28003: password verification for the specified password failed (too close to the old one)")
		}
	}
	return nil
}

type modelConnector struct {
	m      *model
	dsn    string
	tlsCfg *tls.Config
}

func (m *model) connector(dsn string, tlsCfg *tls.Config) driver.Connector {
	return &modelConnector{m: m, dsn: dsn, tlsCfg: tlsCfg}
}

func (c *modelConnector) Driver() driver.Driver { return modelDriver{} }

type modelDriver struct{}

func (modelDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("model: use the connector")
}

func (m *model) handshake(ctx context.Context, cfg *tls.Config) error {
	cfg = cfg.Clone()
	cfg.ServerName = m.host // go-ora sets ServerName to the host it dials
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{m.cert}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.HandshakeContext(ctx)
		_, _ = io.Copy(io.Discard, srv)
	}()
	err := tls.Client(a, cfg).HandshakeContext(ctx)
	a.Close()
	<-done
	return err
}

func (c *modelConnector) Connect(ctx context.Context) (driver.Conn, error) {
	m := c.m
	// What go-ora reads from the URL.
	cfg, err := configurations.ParseConfig(c.dsn)
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) != 1 || !strings.EqualFold(cfg.Servers[0].Addr, m.host) || cfg.Servers[0].Port != m.port {
		return nil, errors.New("dial tcp: no such host")
	}
	if cfg.SSL {
		if c.tlsCfg == nil {
			return nil, errors.New("model: TCPS without the function's TLS configuration")
		}
		if err := m.handshake(ctx, c.tlsCfg); err != nil {
			return nil, err
		}
	}
	u, err := m.authenticate(cfg.UserID, cfg.Password, cfg.ServiceName)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if !cfg.SSL {
		m.plaintext++
	}
	m.mu.Unlock()
	return &modelConn{m: m, user: u}, nil
}

type modelConn struct {
	m    *model
	user *oUser
}

func (c *modelConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("model: Prepare is not supported")
}
func (c *modelConn) Close() error              { return nil }
func (c *modelConn) Begin() (driver.Tx, error) { return nil, errors.New("model: no transactions") }

// otok is a token: a word (upper-cased), a quoted identifier, or
// punctuation.
type otok struct {
	s      string
	quoted bool
}

func otokens(s string) ([]otok, error) {
	var out []otok
	for i := 0; i < len(s); {
		switch ch := s[i]; {
		case ch == ' ':
			i++
		case ch == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New("ORA-01740: missing double quote in identifier")
			}
			if j == 0 {
				return nil, errors.New("ORA-01741: illegal zero-length identifier")
			}
			out = append(out, otok{s[i+1 : i+1+j], true})
			i += j + 2
		case ch == '.' || ch == '(' || ch == ')' || ch == ',':
			out = append(out, otok{string(ch), false})
			i++
		case ch >= 'A' && ch <= 'Z':
			j := i
			for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] == '_') {
				j++
			}
			out = append(out, otok{s[i:j], false})
			i = j
		default:
			return nil, fmt.Errorf("ORA-00922: missing or invalid option near %q", s[i:min(len(s), i+10)])
		}
	}
	return out, nil
}

func (c *modelConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		return nil, errors.New("model: DDL takes no bind variables")
	}
	m := c.m
	t, err := otokens(query)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	word := func(i int, w string) bool { return i < len(t) && !t[i].quoted && t[i].s == w }
	ident := func(i int) (string, bool) {
		if i < len(t) && t[i].quoted {
			return t[i].s, true
		}
		return "", false
	}
	tooLong := func(s string, limit int) error {
		if len(s) > limit {
			return errors.New("ORA-00972: identifier is too long")
		}
		return nil
	}
	logged := func(pwIdx ...int) {
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = x.s
			if x.quoted {
				parts[i] = `"` + x.s + `"`
			}
		}
		for _, i := range pwIdx {
			parts[i] = "<pw>"
		}
		m.log = append(m.log, strings.Join(parts, " "))
	}
	switch {
	case word(0, "ALTER") && word(1, "USER") && word(3, "IDENTIFIED") && word(4, "BY"):
		name, ok1 := ident(2)
		pw, ok2 := ident(5)
		if !ok1 || !ok2 || !(len(t) == 6 || len(t) == 8 && word(6, "REPLACE")) {
			return nil, errors.New("ORA-00922: missing or invalid option")
		}
		if err := tooLong(pw, maxPasswordBytes); err != nil {
			return nil, err
		}
		u, ok := m.users[name]
		if !ok {
			return nil, errors.New("ORA-01918: user does not exist")
		}
		if len(t) == 8 {
			old, ok := ident(7)
			if !ok {
				return nil, errors.New("ORA-00922: missing or invalid option")
			}
			if c.user != u && !c.user.admin {
				return nil, errors.New("ORA-01031: insufficient privileges")
			}
			if old != u.password {
				return nil, errors.New("ORA-28008: invalid old password")
			}
			if m.verify {
				if err := verifyPassword(u.name, pw, old); err != nil {
					return nil, err
				}
			}
			logged(5, 7)
		} else {
			if !c.user.admin {
				if c.user == u && m.verify {
					return nil, errors.New("ORA-28221: REPLACE not specified")
				}
				if c.user != u {
					return nil, errors.New("ORA-01031: insufficient privileges")
				}
			}
			if m.verify {
				if err := verifyPassword(u.name, pw, ""); err != nil {
					return nil, err
				}
			}
			logged(5)
		}
		u.password = pw
		m.changes++
		return driver.RowsAffected(0), nil
	case word(0, "CREATE") && word(1, "USER") && word(3, "IDENTIFIED") && word(4, "BY"):
		if !c.user.admin {
			return nil, errors.New("ORA-01031: insufficient privileges")
		}
		name, ok1 := ident(2)
		pw, ok2 := ident(5)
		if !ok1 || !ok2 {
			return nil, errors.New("ORA-00922: missing or invalid option")
		}
		if err := tooLong(name, m.nameLimit()); err != nil {
			return nil, err
		}
		if err := tooLong(pw, maxPasswordBytes); err != nil {
			return nil, err
		}
		nu := &oUser{name: name, password: pw}
		for i := 6; i < len(t); {
			switch {
			case word(i, "DEFAULT") && word(i+1, "TABLESPACE"):
				ts, ok := ident(i + 2)
				if !ok {
					return nil, errors.New("ORA-00922: missing or invalid option")
				}
				nu.tablespace = ts
				i += 3
			case word(i, "PROFILE"):
				p, ok := ident(i + 1)
				if !ok {
					return nil, errors.New("ORA-00922: missing or invalid option")
				}
				nu.profile = p
				i += 2
			default:
				return nil, errors.New("ORA-00922: missing or invalid option")
			}
		}
		if _, ok := m.users[name]; ok {
			return nil, errors.New("ORA-01920: user name conflicts with another user or role name")
		}
		m.users[name] = nu
		logged(5)
		return driver.RowsAffected(0), nil
	case word(0, "GRANT"):
		if !c.user.admin {
			return nil, errors.New("ORA-01031: insufficient privileges")
		}
		g, grantee, err := parseGrant(t)
		if err != nil {
			return nil, err
		}
		u, ok := m.users[grantee]
		if !ok {
			return nil, errors.New("ORA-01917: user or role does not exist")
		}
		for i, x := range u.grants {
			if x.Kind == g.Kind && x.Name == g.Name && x.Owner == g.Owner && x.Object == g.Object && x.Column == g.Column {
				if g.Option == "YES" {
					u.grants[i].Option = "YES"
				}
				logged()
				return driver.RowsAffected(0), nil
			}
		}
		u.grants = append(u.grants, g)
		logged()
		return driver.RowsAffected(0), nil
	}
	return nil, fmt.Errorf("ORA-00900: invalid SQL statement (model: %.30s)", query)
}

// parseGrant parses the three GRANT forms grantStatement builds.
func parseGrant(t []otok) (grant, string, error) {
	bad := errors.New("ORA-00990: missing or invalid privilege")
	var g grant
	i := 1
	if i < len(t) && t[i].quoted {
		g.Kind, g.Name = "role", t[i].s
		i++
	} else {
		var words []string
		for i < len(t) && !t[i].quoted && t[i].s != "ON" && t[i].s != "TO" && t[i].s != "(" {
			words = append(words, t[i].s)
			i++
		}
		g.Kind, g.Name = "system", strings.Join(words, " ")
		if i < len(t) && t[i].s == "(" {
			if i+2 >= len(t) || !t[i+1].quoted || t[i+2].s != ")" {
				return g, "", bad
			}
			g.Column = t[i+1].s
			i += 3
		}
		if i < len(t) && t[i].s == "ON" {
			g.Kind = "object"
			switch {
			case i+2 < len(t) && !t[i+1].quoted && (t[i+1].s == "DIRECTORY" || t[i+1].s == "USER") && t[i+2].quoted:
				g.Type, g.Object = t[i+1].s, t[i+2].s
				i += 3
			case i+3 < len(t) && t[i+1].quoted && t[i+2].s == "." && t[i+3].quoted:
				g.Owner, g.Object = t[i+1].s, t[i+3].s
				i += 4
			default:
				return g, "", bad
			}
		} else if g.Column != "" {
			return g, "", bad
		}
	}
	if i+1 >= len(t) || t[i].s != "TO" || !t[i+1].quoted {
		return g, "", bad
	}
	grantee := t[i+1].s
	i += 2
	g.Option = "NO"
	if i < len(t) {
		want := "ADMIN"
		if g.Kind == "object" {
			want = "GRANT"
		}
		if len(t) != i+3 || t[i].s != "WITH" || t[i+1].s != want || t[i+2].s != "OPTION" {
			return g, "", bad
		}
		g.Option = "YES"
	}
	return g, grantee, nil
}

func (c *modelConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &modelRows{}
	if query == sqlSelectOne {
		r.cols, r.rows = []string{"1"}, [][]driver.Value{{int64(1)}}
		return r, nil
	}
	if !c.user.admin {
		return nil, errors.New("ORA-00942: table or view does not exist")
	}
	if query == sqlCompatible {
		r.cols, r.rows = []string{"VALUE"}, [][]driver.Value{{m.compatible}}
		return r, nil
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("model: unexpected query: %.40s", query)
	}
	name, _ := args[0].Value.(string)
	u := m.users[name]
	var gs []grant
	if u != nil {
		gs = u.grants
	}
	switch query {
	case sqlUser:
		r.cols = []string{"USERNAME", "PROFILE", "DEFAULT_TABLESPACE"}
		if u != nil {
			r.rows = append(r.rows, []driver.Value{u.name, u.profile, u.tablespace})
		}
	case sqlRolePrivs, sqlSysPrivs:
		r.cols = []string{"NAME", "ADMIN_OPTION"}
		kind := "role"
		if query == sqlSysPrivs {
			kind = "system"
		}
		for _, g := range gs {
			if g.Kind == kind {
				r.rows = append(r.rows, []driver.Value{g.Name, g.Option})
			}
		}
	case sqlTabPrivs:
		r.cols = []string{"OWNER", "TABLE_NAME", "PRIVILEGE", "GRANTABLE", "TYPE"}
		for _, g := range gs {
			if g.Kind == "object" && g.Column == "" {
				r.rows = append(r.rows, []driver.Value{g.Owner, g.Object, g.Name, g.Option, g.Type})
			}
		}
	case sqlColPrivs:
		r.cols = []string{"OWNER", "TABLE_NAME", "COLUMN_NAME", "PRIVILEGE", "GRANTABLE"}
		for _, g := range gs {
			if g.Kind == "object" && g.Column != "" {
				r.rows = append(r.rows, []driver.Value{g.Owner, g.Object, g.Column, g.Name, g.Option})
			}
		}
	default:
		return nil, fmt.Errorf("model: unexpected query: %.40s", query)
	}
	return r, nil
}

type modelRows struct {
	cols []string
	rows [][]driver.Value
}

func (r *modelRows) Columns() []string { return r.cols }
func (r *modelRows) Close() error      { return nil }
func (r *modelRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}
