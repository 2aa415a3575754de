package dbsecret_test

import (
	"fmt"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

func ExampleParse() {
	s, err := dbsecret.Parse(rotation.NewString(`{"engine":"postgres","host":"db.example.com","port":"5432","username":"app","password":"pw"}`), dbsecret.PostgreSQL)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Host, s.Port, s.DBName, s.TLS) // no "ssl": TLS with verification
	fmt.Println(s)                               // the password is redacted

	_, err = dbsecret.Parse(rotation.NewString(`{"engine":"mysql","host":"db","username":"app","password":"pw"}`), dbsecret.PostgreSQL)
	fmt.Println(err)
	_, err = dbsecret.Parse(rotation.NewString(`{"engine":"postgres","host":"db","username":"app"}`), dbsecret.PostgreSQL)
	fmt.Println(err)
	// Output:
	// db.example.com 5432 postgres verify-full
	// dbsecret.Secret{Engine:postgres Host:db.example.com Port:5432 Username:app Password:[REDACTED] DBName:postgres MasterARN: TLS:verify-full SSLRootCert:}
	// invalid secret value: field "engine" is "mysql", a MySQL/MariaDB engine, but this function rotates PostgreSQL (want one of postgres, postgresql, aurora-postgresql)
	// invalid secret value: field "password" is missing
}
