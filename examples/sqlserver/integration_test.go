//go:build sqlserver_integration

package main

// Live-server tests, built only with -tags sqlserver_integration:
//
//	ROTATION_TEST_SQLSERVER='{"host":"db.xxxx.us-east-1.rds.amazonaws.com","port":1433,"username":"admin","password":"...","dbname":"appdb"}' \
//	ROTATION_TEST_SQLSERVER_CA=/path/to/global-bundle.pem \
//	go test -tags sqlserver_integration -run Live ./sqlserver
//
// The admin needs ALTER ANY LOGIN and, in dbname, ALTER ANY USER and ALTER
// ANY ROLE (the RDS master user has them). The tests create logins named
// rtk_<random> and drop them at the end. They fail, never skip, when the
// variable is unset: the build tag is the opt-in.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

type liveServer struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
	DBName   string `json:"dbname"`
	ca       string
}

func live(t *testing.T) *liveServer {
	t.Helper()
	v := os.Getenv("ROTATION_TEST_SQLSERVER")
	if v == "" {
		t.Fatal("ROTATION_TEST_SQLSERVER is not set: set it to the admin secret of a SQL Server (see the file's comment)")
	}
	var s liveServer
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		t.Fatalf("ROTATION_TEST_SQLSERVER is not a JSON object")
	}
	if s.Port == 0 {
		s.Port = 1433
	}
	if s.DBName == "" {
		s.DBName = "master"
	}
	s.ca = os.Getenv("ROTATION_TEST_SQLSERVER_CA")
	return &s
}

// db opens a connection as user, written independently of the rotator's
// connector: a URL DSN with encrypt=true and the CA file as certificate.
func (s *liveServer) db(user, password string) *sql.DB {
	q := url.Values{"database": {s.DBName}, "encrypt": {"true"}}
	if s.ca != "" {
		q.Set("certificate", s.ca)
	}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), RawQuery: q.Encode()}
	c, err := mssql.NewConnector(u.String())
	if err != nil {
		panic(err)
	}
	return sql.OpenDB(c)
}

func (s *liveServer) probe(ctx context.Context, sec *rotation.Secret) error {
	str, _ := sec.SecretString()
	var v struct{ Username, Password, Host, DBName string }
	if err := json.Unmarshal([]byte(str), &v); err != nil {
		return err
	}
	if v.Host != s.Host || v.DBName != s.DBName {
		return errors.New("probe: another server or database")
	}
	db := s.db(v.Username, v.Password)
	defer db.Close()
	return db.PingContext(ctx)
}

func (s *liveServer) admin(t *testing.T) *sql.DB {
	t.Helper()
	db := s.db(s.Username, s.Password)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "rtk_" + hex.EncodeToString(b)
}

func (s *liveServer) createLogin(ctx context.Context, db *sql.DB, name, pw string) error {
	if _, err := db.ExecContext(ctx, sqlCreateLogin, name, pw, s.DBName); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sqlCreateUserForLogin, name); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, "ALTER ROLE db_datareader ADD MEMBER "+quoteIdent(name))
	return err
}

func (s *liveServer) drop(db *sql.DB, names ...string) {
	for _, n := range names {
		_, _ = db.Exec("IF USER_ID(@p1) IS NOT NULL EXEC (N'DROP USER ' + QUOTENAME(@p1))", n)
		_, _ = db.Exec("IF SUSER_ID(@p1) IS NOT NULL EXEC (N'DROP LOGIN ' + QUOTENAME(@p1))", n)
	}
}

func (s *liveServer) settings(t *testing.T, md mode, users string) settings {
	env := map[string]string{envMode: string(md)}
	if s.ca != "" {
		env[envCABundle] = s.ca
	}
	if users != "" {
		env[envUsers] = users
	}
	st, err := loadSettings(mapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *liveServer) factory(t *testing.T, md mode) rotationtest.Factory {
	adminDB := s.admin(t)
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		name, pw := randomName(), strongPassword()
		if err := s.createLogin(ctx, adminDB, name, pw); err != nil {
			return nil, err
		}
		fx := &rotationtest.Fixture{Probe: s.probe, MaxCalls: maxCallsSingle, Close: func() { s.drop(adminDB, name, name+"_clone", name+"_b") }}
		sec := map[string]any{"engine": "sqlserver", "host": s.Host, "port": s.Port, "username": name, "password": pw, "dbname": s.DBName}
		users := ""
		if md != modeSingle {
			sec["masterarn"] = "admin/" + name
			b, _ := json.Marshal(map[string]any{"username": s.Username, "password": s.Password, "host": s.Host, "port": s.Port})
			fx.Others = map[string]string{"admin/" + name: string(b)}
			fx.ZeroDowntime, fx.MaxCalls = true, maxCallsAlternating
		}
		if md == modePrecreated {
			if err := s.createLogin(ctx, adminDB, name+"_b", strongPassword()); err != nil {
				return nil, err
			}
			users = name + "," + name + "_b"
		}
		b, _ := json.Marshal(sec)
		fx.Secret = string(b)
		fx.NewHandler = handlerFor(s.settings(t, md, users))
		return fx, nil
	}
}

func TestLiveConformance(t *testing.T) {
	s := live(t)
	for _, md := range []mode{modeSingle, modeAlternating, modePrecreated} {
		t.Run(string(md), func(t *testing.T) { rotationtest.Run(t, s.factory(t, md)) })
	}
}
