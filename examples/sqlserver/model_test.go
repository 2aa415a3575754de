package main

// An in-memory model of SQL Server's password semantics, behind
// database/sql/driver, so the rotator runs its real code (database/sql,
// its statements and arguments, the go-mssqldb configuration it builds)
// against something that enforces what a server would:
//
//   - a login is made with its current password only; after a change the
//     old password is refused;
//   - ALTER LOGIN/USER ... OLD_PASSWORD succeeds only when the old password
//     is the current one, and only for the principal's own session;
//   - resetting a password, creating principals, reading the catalog and
//     granting need the admin (ALTER ANY LOGIN);
//   - CHECK_POLICY: 8 to 128 characters from three of four classes, not
//     containing the login's name;
//   - QUOTENAME returns NULL for input over 128 characters, and the
//     batches raise;
//   - names compare without case (the default collation);
//   - every connection does a TLS handshake against the model's
//     certificate with the tls.Config the rotator gave the driver
//     (encrypt=true), so an unverifiable configuration is refused;
//   - GRANT, DENY and ALTER [SERVER] ROLE statements are parsed (bracket
//     quoting undone) and applied, so a clone's privileges can be compared
//     with its base's.

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

	"github.com/microsoft/go-mssqldb/msdsn"
)

type mLogin struct {
	name, password string
	admin          bool // ALTER ANY LOGIN, as the RDS master user has
	serverRoles    []string
	serverPerms    []perm
}

type mUser struct {
	name     string
	login    string // "" for a contained user
	password string // contained users only
	roles    []string
	perms    []perm
}

type mDB struct {
	name      string
	contained bool
	users     map[string]*mUser // by lower-case name
}

type model struct {
	host string
	port int
	cert tls.Certificate

	mu     sync.Mutex
	logins map[string]*mLogin
	dbs    map[string]*mDB
	// log records every statement executed (constant text or a grant;
	// never a password) and every connection's TLS mode.
	log        []string
	plaintext  int // connections without TLS
	connects   int
	changes    int // password changes applied
	failChange error
}

func key(s string) string { return strings.ToLower(s) }

func newModel(host string, cert tls.Certificate) *model {
	return &model{host: host, port: 1433, cert: cert, logins: map[string]*mLogin{}, dbs: map[string]*mDB{}}
}

func (m *model) addDB(name string, contained bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dbs[key(name)] = &mDB{name: name, contained: contained, users: map[string]*mUser{}}
}

// addLogin creates a login and its user in db ("" for none).
func (m *model) addLogin(name, password, db string, admin bool) *mLogin {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &mLogin{name: name, password: password, admin: admin}
	m.logins[key(name)] = l
	if db != "" {
		m.dbs[key(db)].users[key(name)] = &mUser{name: name, login: name}
	}
	return l
}

func (m *model) addContained(db, name, password string) *mUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := &mUser{name: name, password: password}
	m.dbs[key(db)].users[key(name)] = u
	return u
}

// authenticate is the model's login check, used by connections and by
// the fixtures' Probe: the password must be the principal's current one.
func (m *model) authenticate(user, password, db string) (*mLogin, *mUser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dbs[key(db)]
	if !ok {
		return nil, nil, fmt.Errorf("mssql: login error: Cannot open database %q requested by the login", db)
	}
	if l, ok := m.logins[key(user)]; ok && l.password == password {
		u := d.users[key(user)]
		if u == nil && !l.admin {
			return nil, nil, fmt.Errorf("mssql: login error: Cannot open database %q requested by the login. The login failed", db)
		}
		return l, u, nil
	}
	if u, ok := d.users[key(user)]; ok && d.contained && u.login == "" && u.password == password {
		return nil, u, nil
	}
	return nil, nil, fmt.Errorf("mssql: login error: Login failed for user '%s'", user)
}

// complexEnough is CHECK_POLICY's complexity rule.
func complexEnough(name, pw string) error {
	n := utf16Len(pw)
	classes := 0
	for _, f := range []func(rune) bool{unicode.IsUpper, unicode.IsLower, unicode.IsDigit, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }} {
		if strings.IndexFunc(pw, f) >= 0 {
			classes++
		}
	}
	if n < 8 || n > 128 || classes < 3 || (len(name) >= 3 && strings.Contains(strings.ToLower(pw), strings.ToLower(name))) {
		return errors.New("mssql: Password validation failed. The password does not meet the operating system policy requirements because it is not complex enough")
	}
	return nil
}

type modelConnector struct {
	m   *model
	cfg msdsn.Config
}

func (m *model) connector(cfg msdsn.Config) driver.Connector { return &modelConnector{m: m, cfg: cfg} }

func (c *modelConnector) Driver() driver.Driver { return modelDriver{} }

type modelDriver struct{}

func (modelDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("model: use the connector")
}

// handshake runs a TLS handshake between the driver's configuration and
// the model's certificate over an in-memory pipe.
func (m *model) handshake(ctx context.Context, cfg *tls.Config, host string) error {
	if cfg == nil {
		return errors.New("model: encryption requested without a TLS configuration")
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
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
	if err != nil {
		return fmt.Errorf("TLS Handshake failed: %w", err)
	}
	return nil
}

func (c *modelConnector) Connect(ctx context.Context) (driver.Conn, error) {
	m, cfg := c.m, c.cfg
	if !strings.EqualFold(cfg.Host, m.host) || int(cfg.Port) != m.port {
		return nil, fmt.Errorf("dial tcp %s:%d: no such host", cfg.Host, cfg.Port)
	}
	switch cfg.Encryption {
	case msdsn.EncryptionRequired, msdsn.EncryptionStrict, msdsn.EncryptionOff:
		// EncryptionOff still encrypts the login packet.
		if err := m.handshake(ctx, cfg.TLSConfig, cfg.Host); err != nil {
			return nil, err
		}
	case msdsn.EncryptionDisabled:
	default:
		return nil, fmt.Errorf("model: unknown encryption %d", cfg.Encryption)
	}
	l, u, err := m.authenticate(cfg.User, cfg.Password, cfg.Database)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.connects++
	if cfg.Encryption != msdsn.EncryptionRequired && cfg.Encryption != msdsn.EncryptionStrict {
		m.plaintext++
	}
	return &modelConn{m: m, login: l, user: u, db: key(cfg.Database)}, nil
}

type modelConn struct {
	m     *model
	login *mLogin // nil for a contained user
	user  *mUser  // the database user, if any
	db    string
}

func (c *modelConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("model: Prepare is not supported")
}
func (c *modelConn) Close() error              { return nil }
func (c *modelConn) Begin() (driver.Tx, error) { return nil, errors.New("model: no transactions") }

func (c *modelConn) isAdmin() bool { return c.login != nil && c.login.admin }

func strArgs(args []driver.NamedValue) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		s, ok := a.Value.(string)
		if !ok {
			return nil, fmt.Errorf("model: argument %d is %T, not a string", i+1, a.Value)
		}
		out[i] = s
	}
	return out, nil
}

// quotable is QUOTENAME's limit: NULL (and so the batch's THROW) beyond
// 128 characters.
func quotable(args []string) error {
	for _, a := range args {
		if utf16Len(a) > 128 {
			return errors.New("mssql: rotationkit: a name or password is too long for QUOTENAME")
		}
	}
	return nil
}

var errPermission = errors.New("mssql: Cannot alter the login, because it does not exist or you do not have permission")

func (c *modelConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	m := c.m
	a, err := strArgs(args)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dbs[c.db]
	switch query {
	case sqlChangeOwnLogin, sqlChangeOwnUser, sqlSetLoginPassword, sqlSetUserPassword, sqlCreateLogin, sqlCreateUserForLogin, sqlCreateContainedUser:
		if err := quotable(a); err != nil {
			return nil, err
		}
		m.log = append(m.log, query)
	}
	switch query {
	case sqlChangeOwnLogin:
		l, ok := m.logins[key(a[0])]
		if !ok || c.login == nil || (c.login != l && !c.login.admin) {
			return nil, errPermission
		}
		if l.password != a[2] {
			return nil, errors.New("mssql: Cannot set password: the old password is not correct (OLD_PASSWORD)")
		}
		if err := complexEnough(l.name, a[1]); err != nil {
			return nil, err
		}
		if m.failChange != nil {
			return nil, m.failChange
		}
		l.password = a[1]
		m.changes++
	case sqlChangeOwnUser:
		u, ok := d.users[key(a[0])]
		if !ok || !d.contained || u.login != "" || (c.user != u && !c.isAdmin()) {
			return nil, errPermission
		}
		if u.password != a[2] {
			return nil, errors.New("mssql: Cannot set password: the old password is not correct (OLD_PASSWORD)")
		}
		if err := complexEnough(u.name, a[1]); err != nil {
			return nil, err
		}
		u.password = a[1]
		m.changes++
	case sqlSetLoginPassword:
		l, ok := m.logins[key(a[0])]
		if !ok || !c.isAdmin() {
			return nil, errPermission
		}
		if err := complexEnough(l.name, a[1]); err != nil {
			return nil, err
		}
		l.password = a[1]
		m.changes++
	case sqlSetUserPassword:
		u, ok := d.users[key(a[0])]
		if !ok || !c.isAdmin() || u.login != "" {
			return nil, errPermission
		}
		if err := complexEnough(u.name, a[1]); err != nil {
			return nil, err
		}
		u.password = a[1]
		m.changes++
	case sqlCreateLogin:
		if !c.isAdmin() {
			return nil, errPermission
		}
		if _, ok := m.logins[key(a[0])]; !ok {
			if err := complexEnough(a[0], a[1]); err != nil {
				return nil, err
			}
			m.logins[key(a[0])] = &mLogin{name: a[0], password: a[1]}
		}
	case sqlCreateUserForLogin:
		if !c.isAdmin() {
			return nil, errPermission
		}
		if _, ok := d.users[key(a[0])]; !ok {
			if _, ok := m.logins[key(a[0])]; !ok {
				return nil, errors.New("mssql: the login does not exist")
			}
			d.users[key(a[0])] = &mUser{name: a[0], login: a[0]}
		}
	case sqlCreateContainedUser:
		if !c.isAdmin() || !d.contained {
			return nil, errPermission
		}
		if _, ok := d.users[key(a[0])]; !ok {
			if err := complexEnough(a[0], a[1]); err != nil {
				return nil, err
			}
			d.users[key(a[0])] = &mUser{name: a[0], password: a[1]}
		}
	case sqlInMaster:
		if !c.isAdmin() {
			return nil, errors.New("mssql: permission denied")
		}
		if err := m.applyGrant(nil, a[0]); err != nil {
			return nil, err
		}
		m.log = append(m.log, "master: "+a[0])
	default:
		if len(args) > 0 {
			return nil, fmt.Errorf("model: unexpected statement with arguments: %s", query)
		}
		if !c.isAdmin() {
			return nil, errors.New("mssql: permission denied")
		}
		if err := m.applyGrant(d, query); err != nil {
			return nil, err
		}
		m.log = append(m.log, query)
	}
	return driver.RowsAffected(0), nil
}

// tokens splits a statement into words, bracket-quoted identifiers (with
// "]]" undone; quoted[i] tells them apart) and the punctuation . ( ) ::.
func tokens(s string) (toks []string, quoted []bool, err error) {
	for i := 0; i < len(s); {
		switch ch := s[i]; {
		case ch == ' ':
			i++
		case ch == '[':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, nil, errors.New("mssql: Unclosed quotation mark after the character string")
				}
				if s[j] == ']' {
					if j+1 < len(s) && s[j+1] == ']' {
						b.WriteByte(']')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks, quoted = append(toks, b.String()), append(quoted, true)
			i = j + 1
		case strings.HasPrefix(s[i:], "::"):
			toks, quoted = append(toks, "::"), append(quoted, false)
			i += 2
		case ch == '.' || ch == '(' || ch == ')':
			toks, quoted = append(toks, string(ch)), append(quoted, false)
			i++
		case ch >= 'A' && ch <= 'Z':
			j := i
			for j < len(s) && s[j] >= 'A' && s[j] <= 'Z' {
				j++
			}
			toks, quoted = append(toks, s[i:j]), append(quoted, false)
			i = j
		default:
			return nil, nil, fmt.Errorf("mssql: Incorrect syntax near %q", s[i:])
		}
	}
	return toks, quoted, nil
}

// applyGrant parses and applies GRANT, DENY and ALTER [SERVER] ROLE, in
// database d, or in master (server permissions) when d is nil.
func (m *model) applyGrant(d *mDB, stmt string) error {
	t, q, err := tokens(stmt)
	if err != nil {
		return err
	}
	bad := fmt.Errorf("mssql: Incorrect syntax: %s", stmt)
	ident := func(i int) (string, bool) { return t[i], i < len(t) && q[i] }
	switch {
	case len(t) == 7 && t[0] == "ALTER" && t[1] == "SERVER" && t[2] == "ROLE" && q[3] && t[4] == "ADD" && t[5] == "MEMBER" && q[6]:
		l, ok := m.logins[key(t[6])]
		if !ok {
			return errors.New("mssql: no such login")
		}
		if !slices.Contains(l.serverRoles, t[3]) {
			l.serverRoles = append(l.serverRoles, t[3])
		}
		return nil
	case len(t) == 6 && t[0] == "ALTER" && t[1] == "ROLE" && q[2] && t[3] == "ADD" && t[4] == "MEMBER" && q[5] && d != nil:
		u, ok := d.users[key(t[5])]
		if !ok {
			return errors.New("mssql: no such user")
		}
		if !slices.Contains(u.roles, t[2]) {
			u.roles = append(u.roles, t[2])
		}
		return nil
	case len(t) > 0 && (t[0] == "GRANT" || t[0] == "DENY"):
	default:
		return bad
	}
	p := perm{State: "G", Resolved: true}
	if t[0] == "DENY" {
		p.State = "D"
	}
	i := 1
	var words []string
	for i < len(t) && !q[i] && t[i] != "(" && t[i] != "ON" && t[i] != "TO" {
		words = append(words, t[i])
		i++
	}
	p.Permission = strings.Join(words, " ")
	if i < len(t) && t[i] == "(" {
		col, ok := ident(i + 1)
		if !ok || i+2 >= len(t) || t[i+2] != ")" {
			return bad
		}
		p.Column = col
		i += 3
	}
	p.Class = classDatabase
	if i < len(t) && t[i] == "ON" {
		switch {
		case i+3 < len(t) && t[i+1] == "SCHEMA" && t[i+2] == "::" && q[i+3]:
			p.Class, p.Schema = classSchema, t[i+3]
			i += 4
		case i+5 < len(t) && t[i+1] == "OBJECT" && t[i+2] == "::" && q[i+3] && t[i+4] == "." && q[i+5]:
			p.Class, p.Schema, p.Object = classObject, t[i+3], t[i+5]
			i += 6
		default:
			return bad
		}
	}
	if i+1 >= len(t) || t[i] != "TO" || !q[i+1] {
		return bad
	}
	grantee := t[i+1]
	i += 2
	if i < len(t) {
		if len(t) != i+3 || t[i] != "WITH" || t[i+1] != "GRANT" || t[i+2] != "OPTION" || p.State != "G" {
			return bad
		}
		p.State = "W"
	}
	if d == nil {
		// In master, GRANT <permission> TO <login> is a server permission.
		l, ok := m.logins[key(grantee)]
		if !ok || p.Class != classDatabase {
			return errors.New("mssql: Cannot find the login, or a securable given for a server permission")
		}
		p.Class = classServer
		l.serverPerms = upsert(l.serverPerms, p)
		return nil
	}
	u, ok := d.users[key(grantee)]
	if !ok {
		return errors.New("mssql: Cannot find the user")
	}
	u.perms = upsert(u.perms, p)
	return nil
}

// upsert replaces the permission on the same securable (a GRANT replaces
// a DENY and the reverse, as on SQL Server).
func upsert(ps []perm, p perm) []perm {
	for i, x := range ps {
		if x.Permission == p.Permission && x.Class == p.Class && x.Schema == p.Schema && x.Object == p.Object && x.Column == p.Column {
			ps[i] = p
			return ps
		}
	}
	return append(ps, p)
}

func (c *modelConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	m := c.m
	a, err := strArgs(args)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dbs[c.db]
	r := &modelRows{}
	switch query {
	case sqlSelectOne:
		r.cols = []string{""}
		r.rows = [][]driver.Value{{int64(1)}}
		return r, nil
	case sqlAuthType:
		r.cols = []string{"authentication_type"}
		if u, ok := d.users[key(a[0])]; ok {
			t := int64(authInstance)
			if u.login == "" {
				t = authDatabase
			}
			r.rows = [][]driver.Value{{t}}
		}
		return r, nil
	}
	if !c.isAdmin() {
		return nil, errors.New("mssql: permission denied reading the catalog")
	}
	switch query {
	case sqlLoginExists:
		r.cols = []string{"name"}
		if l, ok := m.logins[key(a[0])]; ok {
			r.rows = [][]driver.Value{{l.name}}
		}
	case sqlServerRoles:
		r.cols = []string{"name"}
		if l, ok := m.logins[key(a[0])]; ok {
			for _, x := range l.serverRoles {
				r.rows = append(r.rows, []driver.Value{x})
			}
		}
	case sqlServerPerms:
		r.cols = []string{"state", "permission_name", "class"}
		if l, ok := m.logins[key(a[0])]; ok {
			for _, p := range l.serverPerms {
				r.rows = append(r.rows, []driver.Value{p.State, p.Permission, int64(p.Class)})
			}
		}
	case sqlDBRoles:
		r.cols = []string{"name"}
		if u, ok := d.users[key(a[0])]; ok {
			for _, x := range u.roles {
				r.rows = append(r.rows, []driver.Value{x})
			}
		}
	case sqlDBPerms:
		r.cols = []string{"state", "permission_name", "class", "schema", "object", "column"}
		if u, ok := d.users[key(a[0])]; ok {
			for _, p := range u.perms {
				row := []driver.Value{p.State, p.Permission, int64(p.Class), p.Schema, p.Object, p.Column}
				if !p.Resolved {
					row[3] = nil
				}
				r.rows = append(r.rows, row)
			}
		}
	default:
		return nil, fmt.Errorf("model: unexpected query: %s", query)
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
