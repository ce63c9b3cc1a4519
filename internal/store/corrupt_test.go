package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// validFile builds a closed store file with a few hundred pages: retained
// messages, sessions with subscriptions, messages (some large enough for
// overflow pages) and inbound ids. It returns the file bytes.
func validFile(t *testing.T) []byte {
	t.Helper()
	s := openStore(t, tempPath(t), Options{NoSync: true})
	load(t, s)
	for i := range 200 {
		mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: fmt.Sprintf("r/%03d", i), Payload: []byte(strings.Repeat("r", 300))}))
	}
	for c := range 5 {
		id := fmt.Sprintf("client-%d", c)
		mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: id, Version: mqtt.V5}))
		mustNil(t, s.SaveSubscription(id, &broker.StoredSubscription{Filter: "a/#", QoS: 1}))
		mustNil(t, s.SaveInbound(id, 5))
		for i := uint64(1); i <= 300; i++ {
			size := 200
			if i%100 == 0 {
				size = 20000 // overflow pages
			}
			mustNil(t, s.SaveMessage(id, message(i, strings.Repeat("m", size))))
		}
	}
	mustNil(t, s.Close())
	b, err := os.ReadFile(s.Path())
	mustNil(t, err)
	return b
}

// writeFile writes b to a fresh file and returns its path.
func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	mustNil(t, os.WriteFile(path, b, 0o600))
	return path
}

// highWater returns the file's page size and high-water mark (pages in use).
func highWater(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	mustNil(t, err)
	defer f.Close()
	m0 := readMeta(f, 0)
	m1 := readMeta(f, int64(m0.pageSize))
	if m1.txid > m0.txid {
		m0 = m1
	}
	if !m0.valid {
		t.Fatal("test file has no valid meta page")
	}
	return int(m0.pageSize), int(m0.hwm)
}

func TestOpenCorruptFiles(t *testing.T) {
	good := validFile(t)
	ps, hwm := highWater(t, writeFile(t, good))
	if hwm < 50 {
		t.Fatalf("test file too small: %d pages", hwm)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	zeroMetas := append([]byte(nil), good...)
	clear(zeroMetas[:2*ps])
	badChecksums := append([]byte(nil), good...)
	badChecksums[16+20]++    // meta 0 root pgid
	badChecksums[ps+16+20]++ // meta 1 root pgid
	for _, tc := range []struct {
		name string
		b    []byte
		want string // in the error
	}{
		{"garbage 10 bytes", garbage(10), "not a bbolt database"},
		{"garbage 100 bytes", garbage(100), "not a bbolt database"},
		{"garbage one page", garbage(4096), "not a bbolt database"},
		{"garbage 64 KiB", garbage(64 << 10), "not a bbolt database"},
		{"text file", []byte(strings.Repeat("listener 1883\n", 1000)), "not a bbolt database"},
		{"meta pages zeroed", zeroMetas, "not a bbolt database"},
		{"meta checksums wrong", badChecksums, "checksum"},
		{"truncated to one meta page", good[:ps+100], "shorter than its two meta pages"},
		{"truncated to 3 pages", good[:3*ps], "truncated"},
		{"truncated to half", good[:hwm*ps/2], "truncated"},
		{"truncated by one page", good[:(hwm-1)*ps], "truncated"},
		{"truncated by one byte", good[:hwm*ps-1], "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(writeFile(t, tc.b), Options{})
			if !isCorrupt(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v\nwant an ErrCorrupt error containing %q", err, tc.want)
			}
		})
	}
	t.Run("untouched copy opens", func(t *testing.T) {
		s := openStore(t, writeFile(t, good), Options{})
		if snap := load(t, s); len(snap.Retained) != 200 || len(snap.Sessions) != 5 {
			t.Errorf("%d retained, %d sessions", len(snap.Retained), len(snap.Sessions))
		}
	})
}

// TestOpenDamagedPages overwrites or flips bytes in one page at a time.
// Open must either fail with ErrCorrupt or (when the page was free)
// succeed; it must never panic or crash, and a store that opened must
// keep working or fail with errors.
func TestOpenDamagedPages(t *testing.T) {
	good := validFile(t)
	ps, hwm := highWater(t, writeFile(t, good))
	rng := rand.New(rand.NewPCG(1, 2))
	detected, opened := 0, 0
	for i := range 120 {
		b := append([]byte(nil), good...)
		page := 2 + rng.IntN(hwm-2)
		p := b[page*ps : (page+1)*ps]
		var how string
		switch i % 3 {
		case 0:
			how = "random page"
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
		case 1:
			how = "flipped header/element bytes"
			for range 4 {
				p[rng.IntN(64)] ^= byte(1 + rng.IntN(255))
			}
		default:
			how = "flipped bytes"
			for range 8 {
				p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
			}
		}
		name := fmt.Sprintf("%d %s in page %d", i, how, page)
		s, err := Open(writeFile(t, b), Options{Logf: func(string, ...any) {}})
		if err != nil {
			if !isCorrupt(err) {
				t.Errorf("%s: Open error does not wrap ErrCorrupt: %v", name, err)
			}
			detected++
			continue
		}
		opened++
		if _, err := s.Load(); err != nil {
			t.Errorf("%s: Load after a clean Open: %v", name, err)
		}
		// Keep using it: errors are fine, a crash is not.
		_ = s.SaveRetained(&broker.StoredMessage{Topic: "r/000", Payload: []byte("new")})
		_ = s.DeleteSession("client-1")
		_ = s.SaveMessage("client-2", message(1000, "x"))
		if err := s.Sync(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Logf("%s: Sync: %v", name, err)
		}
		_ = s.Close()
	}
	t.Logf("%d damaged files refused, %d opened (damage in free or unread bytes)", detected, opened)
	if detected == 0 {
		t.Error("no damage detected at all")
	}
}
