package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// FerretDB implements neither roles nor authorization, so the role copy
// and the privileged-role refusals are checked here, on the commands.

func TestCloneCommands(t *testing.T) {
	roles := []role{{"readWrite", "app"}, {"read", "reporting"}}
	got := createCloneCmd("app_clone", "throwaway", roles)
	want := bson.D{{Key: "createUser", Value: "app_clone"}, {Key: "pwd", Value: "throwaway"}, {Key: "roles", Value: bson.A{
		bson.D{{Key: "role", Value: "readWrite"}, {Key: "db", Value: "app"}},
		bson.D{{Key: "role", Value: "read"}, {Key: "db", Value: "reporting"}},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("createCloneCmd (-want +got):\n%s", diff)
	}
	if got := setRolesCmd("app_clone", nil); !cmp.Equal(got, bson.D{{Key: "updateUser", Value: "app_clone"}, {Key: "roles", Value: bson.A{}}}) {
		t.Errorf("setRolesCmd with no roles = %v, want an empty array (roles removed)", got)
	}
	if !sameRoles(roles, []role{{"read", "reporting"}, {"readWrite", "app"}}) || sameRoles(roles, roles[:1]) {
		t.Error("sameRoles ignores order but not content")
	}
}

func TestPrivileged(t *testing.T) {
	if got := privileged([]role{{"readWrite", "app"}, {"root", "admin"}, {"userAdminAnyDatabase", "admin"}}); !cmp.Equal(got, []string{"root@admin", "userAdminAnyDatabase@admin"}) {
		t.Errorf("privileged = %v", got)
	}
	if got := privileged([]role{{"read", "x"}}); len(got) != 0 {
		t.Errorf("privileged(read) = %v", got)
	}
}

func TestCheckUser(t *testing.T) {
	for _, bad := range []string{"", strings.Repeat("a", 64), "a\x00b"} {
		if err := checkUser("username", bad); !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("checkUser(%q) = %v", bad, err)
		}
	}
	if err := checkUser("username", `we"ird $user.name`); err != nil {
		t.Errorf("checkUser: %v", err)
	}
}
