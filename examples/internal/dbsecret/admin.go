package dbsecret

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rotationkit/rotation"
)

// ParseAdmin reads an admin credential (the secret the rotated one names
// in "masterarn") for target's server. Only "username" and "password" are
// required: RDS-managed master user secrets hold just those. Host, port,
// dbname and the TLS settings the admin secret lacks are taken from
// target. When it does name a host or port they must equal target's, so
// an admin secret for another server is refused (the host comparison
// ignores case); an "engine" it names must belong to family f. Errors
// wrap rotation.ErrInvalidSecret, say "admin secret" and name the field.
//
// Use it with strategy.AdminSecret{SkipFieldMatch: true}: the strategy's own
// match (default ["host"]) would refuse admin secrets without a host.
//
// ParseAdmin lets the rotated secret choose where the admin credential
// goes when the admin secret names no host, and how (its "ssl" and
// "sslmode"): anyone who can write the rotated secret could then point it
// at a server of theirs and receive the admin password. Rotators should
// use AdminPolicy.ParseAdmin, which takes the endpoint and the TLS
// settings from the function's configuration.
func ParseAdmin(admin *rotation.Secret, target *Secret, f Family) (*Secret, error) {
	if target == nil {
		return nil, fmt.Errorf("dbsecret: ParseAdmin: no target secret")
	}
	out, err := parseAdmin(admin, target, f)
	if err != nil {
		return nil, fmt.Errorf("admin secret: %w", err)
	}
	return out, nil
}

func parseAdmin(admin *rotation.Secret, target *Secret, f Family) (*Secret, error) {
	if admin == nil {
		return nil, fmt.Errorf("%w: no secret", rotation.ErrInvalidSecret)
	}
	if err := admin.Validate(); err != nil {
		return nil, err
	}
	out := *target
	out.MasterARN = ""
	var err error
	if out.Username, err = admin.Get(FieldUsername); err != nil {
		return nil, err
	}
	if err := checkText(FieldUsername, out.Username); err != nil {
		return nil, err
	}
	if out.Password, err = admin.Get(FieldPassword); err != nil {
		return nil, err
	}
	if err := checkText(FieldPassword, out.Password); err != nil {
		return nil, err
	}
	if e, ok, err := admin.Lookup(FieldEngine); err != nil {
		return nil, err
	} else if ok && e != "" && !slices.Contains(f.Engines(), strings.ToLower(strings.TrimSpace(e))) {
		return nil, fieldErr(FieldEngine, "is not one of %s (the admin must be for the same %s server)", strings.Join(f.Engines(), ", "), f)
	}
	if h, ok, err := admin.Lookup(FieldHost); err != nil {
		return nil, err
	} else if ok && h != "" && !strings.EqualFold(h, target.Host) {
		return nil, fieldErr(FieldHost, "differs from the rotated secret's: the admin secret is for another server")
	}
	if _, ok, err := admin.Lookup(FieldPort); err != nil {
		return nil, err
	} else if ok {
		p, err := admin.Int(FieldPort)
		if err != nil {
			return nil, err
		}
		if p != target.Port {
			return nil, fieldErr(FieldPort, "differs from the rotated secret's: the admin secret is for another server")
		}
	}
	if db, ok, err := admin.Lookup(FieldDBName); err != nil {
		return nil, err
	} else if ok && db != "" {
		if err := checkText(FieldDBName, db); err != nil {
			return nil, err
		}
		out.DBName = db
	}
	if admin.Has(FieldSSL) || admin.Has(FieldSSLMode) {
		if out.TLS, err = parseTLS(admin); err != nil {
			return nil, err
		}
	}
	if rc, ok, err := admin.Lookup(FieldSSLRootCert); err != nil {
		return nil, err
	} else if ok && rc != "" {
		if err := checkText(FieldSSLRootCert, rc); err != nil {
			return nil, err
		}
		out.SSLRootCert = rc
	}
	return &out, nil
}

// Environment variables AdminPolicyFromEnv and AllowedUsersFromEnv read.
const (
	// EnvAdminEndpoint pins the server ("host:port") the admin credential
	// may be sent to, for admin secrets that name no host (RDS-managed
	// master user secrets hold only a user name and a password).
	EnvAdminEndpoint = "DB_ADMIN_ENDPOINT"
	// EnvAdminAllowPlaintext, "true", lets the admin connection follow
	// the secrets' TLS settings (including "ssl": false). For tests
	// against a local server only.
	EnvAdminAllowPlaintext = "DB_ADMIN_ALLOW_PLAINTEXT"
	// EnvAllowedUsers lists, comma-separated, the users whose password
	// the admin credential may change in single-user rotation.
	EnvAllowedUsers = "ALLOWED_USERS"
)

// ErrAdminEndpoint means the admin credential would go to a server that
// the function's configuration does not vouch for: the admin secret names
// no host and EnvAdminEndpoint is not set, or the rotated secret names
// another server than the one pinned.
var ErrAdminEndpoint = errors.New("the admin endpoint is not pinned by the function's configuration")

// AdminPolicy says where and how a rotator logs in with an admin
// credential. It is the function's configuration (AdminPolicyFromEnv),
// never read from a secret: the rotated secret is writable by more people
// than the admin secret is readable by, so it must not choose where the
// admin password is sent, nor whether it travels in plaintext.
type AdminPolicy struct {
	// Host and Port pin the admin connection's server when the admin
	// secret names no host; the rotated secret must then name the same
	// host (case-insensitively) and port. When the admin secret names a
	// host, they must equal it (if set). Empty Host: not pinned.
	Host string
	Port int
	// AllowPlaintext makes the admin connection follow the secrets' TLS
	// settings (the admin secret's "ssl"/"sslmode"/"sslrootcert" if it
	// has them, else the rotated secret's), "ssl": false included. For
	// tests against a local server without a verifiable certificate only;
	// without it the admin connection always uses TLS verified against
	// the host name (verify-full).
	AllowPlaintext bool
}

// AdminPolicyFromEnv reads EnvAdminEndpoint and EnvAdminAllowPlaintext
// through lookup (os.LookupEnv in a main). The endpoint is host:port
// ("[::1]:5432" for an IPv6 address); the port is required. Errors name
// the variable.
func AdminPolicyFromEnv(f Family, lookup func(string) (string, bool)) (AdminPolicy, error) {
	var p AdminPolicy
	if lookup == nil {
		return p, nil
	}
	if v, ok := lookup(EnvAdminEndpoint); ok && strings.TrimSpace(v) != "" {
		host, portStr, err := net.SplitHostPort(strings.TrimSpace(v))
		if err != nil || host == "" {
			return p, fmt.Errorf("dbsecret: %s must be host:port, such as mydb.cluster-abc.eu-west-1.rds.amazonaws.com:%d", EnvAdminEndpoint, f.DefaultPort())
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return p, fmt.Errorf("dbsecret: %s: the port must be a number from 1 to 65535", EnvAdminEndpoint)
		}
		if problem := hostProblem(host); problem != "" {
			return p, fmt.Errorf("dbsecret: %s: the host %s", EnvAdminEndpoint, problem)
		}
		p.Host, p.Port = host, port
	}
	if v, ok := lookup(EnvAdminAllowPlaintext); ok && strings.TrimSpace(v) != "" {
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
		if err != nil {
			return p, fmt.Errorf("dbsecret: %s must be true or false", EnvAdminAllowPlaintext)
		}
		p.AllowPlaintext = b
	}
	return p, nil
}

// AllowedUsersFromEnv reads EnvAllowedUsers through lookup: user names
// separated by commas, spaces around them ignored. It returns nil when the
// variable is unset or empty. Names are compared exactly (case matters).
func AllowedUsersFromEnv(lookup func(string) (string, bool)) ([]string, error) {
	if lookup == nil {
		return nil, nil
	}
	v, ok := lookup(EnvAllowedUsers)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var users []string
	for _, u := range strings.Split(v, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, fmt.Errorf("dbsecret: %s has an empty entry; list user names separated by commas", EnvAllowedUsers)
		}
		for _, r := range u {
			if unicode.IsControl(r) {
				return nil, fmt.Errorf("dbsecret: %s: a user name contains a control character", EnvAllowedUsers)
			}
		}
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return users, nil
}

// ParseAdmin reads an admin credential for target's server, as the
// package-level ParseAdmin does, and then applies p:
//
//   - Endpoint. When the admin secret names a host, the connection goes
//     there, on its port (the family default when it names none); the
//     rotated secret must name the same host and port, and so must p when
//     it pins one. When the admin secret names no host, p must pin one,
//     and the rotated secret must name it; otherwise the result is an
//     error wrapping ErrAdminEndpoint that names EnvAdminEndpoint. The
//     rotated secret alone never decides where the admin password goes.
//   - TLS. Unless p.AllowPlaintext, the result's TLS is TLSVerifyFull with
//     no SSLRootCert, whatever either secret says, so Secret.TLSConfig
//     verifies the server against the CA bundles the function passes it
//     (or DefaultCAFiles), never against a bundle a secret names.
//
// Errors name fields and variables, never values.
func (p AdminPolicy) ParseAdmin(admin *rotation.Secret, target *Secret, f Family) (*Secret, error) {
	out, err := ParseAdmin(admin, target, f)
	if err != nil {
		return nil, err
	}
	host, _, err := admin.Lookup(FieldHost)
	if err != nil {
		return nil, fmt.Errorf("admin secret: %w", err)
	}
	var port int
	switch {
	case host != "":
		port = f.DefaultPort()
		if admin.Has(FieldPort) {
			if port, err = admin.Int(FieldPort); err != nil {
				return nil, fmt.Errorf("admin secret: %w", err)
			}
		}
		if port != target.Port {
			return nil, fmt.Errorf("admin secret: %w", fieldErr(FieldPort, "differs from the rotated secret's (the admin secret names no port: the default %d applies): the admin secret is for another server", f.DefaultPort()))
		}
		if p.Host != "" && (!strings.EqualFold(p.Host, host) || p.Port != port) {
			return nil, fmt.Errorf("%w: the admin secret's host and port differ from %s", ErrAdminEndpoint, EnvAdminEndpoint)
		}
	case p.Host != "":
		host, port = p.Host, p.Port
		if !strings.EqualFold(host, target.Host) || port != target.Port {
			return nil, fmt.Errorf("%w: fields %q and %q of the rotated secret must name the server %s pins, since the admin secret names no host: refusing to send the admin credential elsewhere", ErrAdminEndpoint, FieldHost, FieldPort, EnvAdminEndpoint)
		}
	default:
		return nil, fmt.Errorf("%w: the admin secret names no host (an RDS-managed master secret holds only a user name and a password), so the server would be the one the rotated secret names; set %s to the database's host:port in the function's configuration", ErrAdminEndpoint, EnvAdminEndpoint)
	}
	out.Host, out.Port = host, port
	if !p.AllowPlaintext {
		out.TLS = TLSVerifyFull
		out.SSLRootCert = ""
	}
	return out, nil
}
