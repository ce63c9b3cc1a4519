package auth

import (
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestACLMatchesMosquitto runs the real mosquitto broker with an ACL file
// and checks, for every identity and topic, that a subscriber receives the
// topic's retained message exactly when our ACL allows Read. (mosquitto
// 2.0 grants every SUBSCRIBE and filters on read access at delivery, so
// delivery is what we compare. The rule set avoids the one documented
// difference: a pattern deny overlapping a user grant.)
func TestACLMatchesMosquitto(t *testing.T) {
	requireTool(t, "mosquitto_sub")
	requireTool(t, "mosquitto_pub")
	dir := t.TempDir()
	aclText := `topic read public/#
topic deny public/secret

user roger
topic read sensors/#
topic deny sensors/private/#
topic write cmd/#

user admin
topic readwrite #

pattern read devices/%c/in
pattern read users/%u/#
pattern deny users/%u/locked
`
	aclPath := writeFile(t, dir, "acl", aclText)
	pw := filepath.Join(dir, "pw")
	for _, u := range []string{"admin", "roger", "bob"} {
		if err := UpdatePasswordFile(pw, u == "admin", u, []byte(u+"-pw")); err != nil {
			t.Fatal(err)
		}
	}
	port := startMosquitto(t, "allow_anonymous true", "password_file "+pw, "acl_file "+aclPath)
	p := strconv.Itoa(port)

	topics := []string{"public/a", "public/secret", "sensors/t1", "sensors/private/x", "cmd/x",
		"devices/anon1/in", "devices/rc/in", "users/roger/inbox", "users/roger/locked", "users/bob/inbox", "other"}
	for _, tp := range topics {
		code, out := runTool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", "admin-pw",
			"-q", "1", "-r", "-t", tp, "-m", "m")
		if code != 0 {
			t.Fatalf("admin publish to %s: exit %d: %s", tp, code, out)
		}
	}

	acl := mustACL(t, aclText)
	type ident struct {
		user, clientID string
	}
	idents := []ident{{"", "anon1"}, {"roger", "rc"}, {"bob", "bc"}}
	// One subscriber per identity (client ids must be unique: the %c
	// pattern needs a fixed id, and a second connection with the same id
	// would take the first one's session over). It subscribes to every
	// topic and prints what it receives until -W ends it.
	received := make([]map[string]bool, len(idents))
	var wg sync.WaitGroup
	for i, id := range idents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-h", "127.0.0.1", "-p", p, "-i", id.clientID, "-v", "-W", "3"}
			for _, tp := range topics {
				args = append(args, "-t", tp)
			}
			if id.user != "" {
				args = append(args, "-u", id.user, "-P", id.user+"-pw")
			}
			_, out := runTool(t, "mosquitto_sub", args...) // exits 27 at -W
			got := map[string]bool{}
			for _, line := range strings.Split(out, "\n") {
				if tp, ok := strings.CutSuffix(line, " m"); ok {
					got[tp] = true
				}
			}
			received[i] = got
		}()
	}
	wg.Wait()
	delivered := 0
	for i, id := range idents {
		delivered += len(received[i])
		for _, tp := range topics {
			want := acl.Allowed(id.user, id.user != "", id.clientID, tp, Read)
			if received[i][tp] != want {
				t.Errorf("user %q id %q topic %q: mosquitto delivered=%v, our ACL allows read=%v",
					id.user, id.clientID, tp, received[i][tp], want)
			}
		}
	}
	if total := len(idents) * len(topics); delivered == 0 || delivered == total {
		t.Errorf("%d of %d deliveries: the comparison is vacuous", delivered, total)
	}
}
