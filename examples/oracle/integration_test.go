//go:build oracle_integration

package main

// Live-server tests, built only with -tags oracle_integration:
//
//	ROTATION_TEST_ORACLE='{"host":"db.xxxx.us-east-1.rds.amazonaws.com","port":2484,"username":"admin","password":"...","dbname":"ORCL"}' \
//	ROTATION_TEST_ORACLE_CA=/path/to/global-bundle.pem \
//	go test -tags oracle_integration -run Live ./oracle
//
// Add "ssl": false to the JSON to test over plain TCP (port 1521). The
// admin needs CREATE USER, ALTER USER, DROP USER, GRANT ANY ROLE and
// SELECT on the DBA_* views and V$PARAMETER (the RDS master user has
// them). The tests create users named RTK_<random> and drop them at the
// end. They fail, never skip, when the variable is unset: the build tag
// is the opt-in.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
	goora "github.com/sijms/go-ora/v2"
)

type liveServer struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
	DBName   string `json:"dbname"`
	SSL      *bool  `json:"ssl"`
	ca       string
}

func live(t *testing.T) *liveServer {
	t.Helper()
	v := os.Getenv("ROTATION_TEST_ORACLE")
	if v == "" {
		t.Fatal("ROTATION_TEST_ORACLE is not set: set it to the admin secret of an Oracle database (see the file's comment)")
	}
	var s liveServer
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		t.Fatal("ROTATION_TEST_ORACLE is not a JSON object")
	}
	if s.Port == 0 {
		s.Port = 2484
	}
	s.ca = os.Getenv("ROTATION_TEST_ORACLE_CA")
	return &s
}

func (s *liveServer) tls() bool { return s.SSL == nil || *s.SSL }

// db opens a connection as user, written independently of the rotator's
// connector.
func (s *liveServer) db(user, password string) (*sql.DB, error) {
	opts := map[string]string{}
	var cfg *tls.Config
	if s.tls() {
		opts["SSL"] = "enable"
		cfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
		if s.ca != "" {
			pem, err := os.ReadFile(s.ca)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AppendCertsFromPEM(pem)
		}
	}
	c := goora.NewConnector(goora.BuildUrl(s.Host, s.Port, s.DBName, user, password, opts)).(*goora.OracleConnector)
	if cfg != nil {
		c.WithTLSConfig(cfg)
	}
	return sql.OpenDB(c), nil
}

func (s *liveServer) probe(ctx context.Context, sec *rotation.Secret) error {
	str, _ := sec.SecretString()
	var v struct{ Username, Password, Host, DBName string }
	if err := json.Unmarshal([]byte(str), &v); err != nil {
		return err
	}
	if v.Host != s.Host || v.DBName != s.DBName {
		return errors.New("probe: another server or service")
	}
	db, err := s.db(v.Username, v.Password)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func randomName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "RTK_" + strings.ToUpper(hex.EncodeToString(b))
}

func (s *liveServer) createUser(ctx context.Context, db *sql.DB, name, pw string) error {
	st, err := createUserStatement(name, pw, "", "", maxNameBytes)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, st); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `GRANT CREATE SESSION TO "`+name+`"`)
	return err
}

func (s *liveServer) factory(t *testing.T, md mode) rotationtest.Factory {
	admin, err := s.db(s.Username, s.Password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		name, pw := randomName(), strongPassword()
		if err := s.createUser(ctx, admin, name, pw); err != nil {
			return nil, err
		}
		drop := func() {
			for _, n := range []string{name, name + "_CLONE", name + "_B"} {
				_, _ = admin.Exec(`DROP USER "` + n + `" CASCADE`)
			}
		}
		fx := &rotationtest.Fixture{Probe: s.probe, MaxCalls: maxCallsSingle, Close: drop}
		sec := map[string]any{"engine": "oracle", "host": s.Host, "port": s.Port, "username": name, "password": pw, "dbname": s.DBName}
		if !s.tls() {
			sec["ssl"] = false
		}
		env := map[string]string{envMode: string(md)}
		if s.ca != "" {
			env[envCABundle] = s.ca
		}
		if !s.tls() {
			env["DB_ADMIN_ALLOW_PLAINTEXT"] = "true"
		}
		if md != modeSingle {
			sec["masterarn"] = "admin/" + name
			b, _ := json.Marshal(map[string]any{"username": s.Username, "password": s.Password, "host": s.Host, "port": s.Port})
			fx.Others = map[string]string{"admin/" + name: string(b)}
			fx.ZeroDowntime, fx.MaxCalls = true, maxCallsAlternating
		}
		if md == modePrecreated {
			if err := s.createUser(ctx, admin, name+"_B", strongPassword()); err != nil {
				drop()
				return nil, err
			}
			env[envUsers] = name + "," + name + "_B"
		}
		st, err := loadSettings(mapLookup(env))
		if err != nil {
			drop()
			return nil, err
		}
		b, _ := json.Marshal(sec)
		fx.Secret = string(b)
		fx.NewHandler = handlerFor(st)
		return fx, nil
	}
}

func TestLiveConformance(t *testing.T) {
	s := live(t)
	for _, md := range []mode{modeSingle, modeAlternating, modePrecreated} {
		t.Run(string(md), func(t *testing.T) { rotationtest.Run(t, s.factory(t, md)) })
	}
}
