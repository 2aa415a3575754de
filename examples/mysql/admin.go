package main

import (
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// adminSecret parses the admin credential (the secret the rotated value
// names in "masterarn") for the server of the secret being rotated, with
// the function's admin policy (dbsecret.AdminPolicy, from
// DB_ADMIN_ENDPOINT and DB_ADMIN_ALLOW_PLAINTEXT), so the rotated secret
// never decides where the admin password goes nor how:
//
//   - the server is the admin secret's own host and port (3306 when it
//     names none), or DB_ADMIN_ENDPOINT when the admin secret names no
//     host (the master-user secret RDS manages holds only username and
//     password); without either the admin is not used. The rotated secret
//     must name that same server, and DB_ADMIN_ENDPOINT, when set, must
//     agree with the admin secret's host;
//   - TLS is always on, verified against the host name and the CA bundles
//     of the function's configuration (ROTATION_CA_BUNDLE or the default
//     bundles), whatever "ssl", "sslmode" or "sslrootcert" either secret
//     holds. DB_ADMIN_ALLOW_PLAINTEXT=true (tests against a local server
//     only) lets it follow the secrets' TLS fields instead.
//
// target is the rotated secret's value, already parsed by the caller.
func (c *connector) adminSecret(admin *rotation.Secret, target *dbsecret.Secret) (*dbsecret.Secret, error) {
	return c.admin.ParseAdmin(admin, target, dbsecret.MySQL)
}
