package dbsecret

import (
	"fmt"
	"slices"
	"strings"

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
// Use it with strategy.Admin{MatchFields: []string{}}: the strategy's own
// match (default ["host"]) would refuse admin secrets without a host.
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
	if err := admin.Valid(); err != nil {
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
