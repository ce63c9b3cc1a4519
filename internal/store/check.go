package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/mqkit/mqkit/internal/broker"
)

// bbolt trusts its file: a damaged page can make it panic, and a page
// beyond the end of a truncated file faults on the memory map. Open
// therefore (1) checks the meta pages, the file length and the structure
// of the tree itself (treeVerifier) before bbolt maps anything, (2) runs bbolt's Open and the first full read of
// the file with debug.SetPanicOnFault and recover, turning any panic into
// an ErrCorrupt error, and (3) runs tx.Check (freelist consistency) only
// after the tree passed (1): tx.Check works in a goroutine of its own,
// where a fault could not be recovered.

// On-disk constants of the bbolt file format (version 2), see
// go.etcd.io/bbolt/internal/common: a page starts with a 16-byte header
// (id u64, flags u16, count u16, overflow u32); a meta page holds magic
// u32, version u32, pageSize u32, flags u32, root bucket {pgid u64,
// sequence u64}, freelist pgid u64, high-water pgid u64, txid u64 and an
// FNV-64a checksum of the preceding 56 bytes, in native byte order.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	metaSize         = 64
	metaChecksumOff  = 56
	freelistFlag     = 0x10
	noFreelist       = ^uint64(0)
	minPageSize      = 512
	maxPageSize      = 1 << 20
	boltOverflowMark = 0xFFFF
)

type boltMeta struct {
	pageSize          uint64
	root, free, hwm   uint64
	txid              uint64
	valid             bool
	invalidMagicOrVer bool
}

func readMeta(f *os.File, off int64) boltMeta {
	var b [pageHeaderSize + metaSize]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return boltMeta{invalidMagicOrVer: true} // too short to hold a meta page
	}
	m := b[pageHeaderSize:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	bm := boltMeta{
		pageSize: uint64(ne.Uint32(m[8:])),
		root:     ne.Uint64(m[16:]),
		free:     ne.Uint64(m[32:]),
		hwm:      ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
	bm.invalidMagicOrVer = ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion
	bm.valid = !bm.invalidMagicOrVer && h.Sum64() == ne.Uint64(m[metaChecksumOff:]) &&
		bm.pageSize >= minPageSize && bm.pageSize <= maxPageSize
	return bm
}

// precheck validates the parts of an existing file that bbolt would
// otherwise trust blindly: a valid meta page, a file long enough for the
// pages that meta page says are in use, and a sane freelist page.
func precheck(path string) error {
	size, err := fileSize(path)
	if err != nil || size == 0 {
		return err // a missing or empty file becomes a new store
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	if err := lockShared(f); errors.Is(err, ErrLocked) {
		return fmt.Errorf("%w: %s", ErrLocked, path)
	} else if err != nil {
		return fmt.Errorf("store: lock %s: %w", path, err)
	}
	m0 := readMeta(f, 0)
	ps := int64(os.Getpagesize())
	if m0.valid {
		ps = int64(m0.pageSize)
	}
	m1 := readMeta(f, ps)
	m := m0
	if !m0.valid || (m1.valid && m1.txid > m0.txid) {
		m = m1
	}
	if !m.valid {
		if m0.invalidMagicOrVer && m1.invalidMagicOrVer {
			return corrupt(path, "not a bbolt database (no meta page with the bbolt magic number and version %d)", boltVersion)
		}
		return corrupt(path, "both meta pages fail their checksum")
	}
	ps = int64(m.pageSize)
	if size < 2*ps {
		return corrupt(path, "file is %d bytes, shorter than its two meta pages", size)
	}
	if need := int64(m.hwm) * ps; m.hwm > uint64(1<<62)/uint64(ps) || need > size {
		return corrupt(path, "truncated: file is %d bytes but its last transaction uses %d bytes (%d pages of %d)",
			size, need, m.hwm, ps)
	}
	if m.root < 2 || m.root >= m.hwm {
		return corrupt(path, "root page %d outside [2, %d)", m.root, m.hwm)
	}
	if m.free == noFreelist {
		// bbolt would rebuild the freelist by walking the tree in a goroutine
		// where a panic cannot be recovered; this store always syncs it.
		return corrupt(path, "no freelist page (file not written by mqkit)")
	}
	if m.free < 2 || m.free >= m.hwm {
		return corrupt(path, "freelist page %d outside [2, %d)", m.free, m.hwm)
	}
	var hdr [pageHeaderSize + 8]byte
	if _, err := f.ReadAt(hdr[:], int64(m.free)*ps); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: read %s: %w", path, err)
	}
	ne := binary.NativeEndian
	flags, count, overflow := ne.Uint16(hdr[8:]), uint64(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if flags&freelistFlag == 0 {
		return corrupt(path, "page %d is not a freelist page (flags 0x%x)", m.free, flags)
	}
	if m.free+overflow+1 > m.hwm {
		return corrupt(path, "freelist pages %d+%d beyond the high-water mark %d", m.free, overflow, m.hwm)
	}
	if count == boltOverflowMark {
		count = ne.Uint64(hdr[pageHeaderSize:]) + 1
	}
	if count > ((overflow+1)*uint64(ps)-pageHeaderSize)/8 {
		return corrupt(path, "freelist page %d claims %d entries", m.free, count)
	}
	v := treeVerifier{f: f, path: path, ps: uint64(ps), hwm: m.hwm, seen: map[uint64]bool{}}
	for i := uint64(0); i <= overflow; i++ {
		v.seen[m.free+i] = true
	}
	return v.tree(m.root, 0)
}

// openBolt runs bolt.Open, turning a panic or memory fault into an error.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	var file *os.File
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				_ = file.Close() // releases the flock
			}
			db, err = nil, corrupt(path, "%v", r)
		}
	}()
	db, err = bolt.Open(path, 0o600, o)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, corrupt(path, "%v", err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("store: %w", err)
	}
	return nil, fmt.Errorf("store: open %s: %w", path, err)
}

// verifyAndRead checks the format version, reads everything (recovering
// from panics and faults), runs bbolt's consistency check and creates the
// buckets of a new file. It returns the snapshot and the ids of session
// buckets without metadata.
func (s *Bolt) verifyAndRead() (snap *broker.StoreSnapshot, orphans []string, err error) {
	var fresh bool
	err = s.safeView(func(tx *bolt.Tx) error {
		size, err := fileSize(s.path)
		if err != nil {
			return err
		}
		if tx.Size() > size {
			return corrupt(s.path, "truncated: file is %d bytes, data needs %d", size, tx.Size())
		}
		mb := tx.Bucket(bucketMeta)
		if mb == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("store: data file %s is not an mqkit store (no %q bucket)", s.path, bucketMeta)
			}
			fresh = true
			snap = &broker.StoreSnapshot{}
			return nil
		}
		if v := string(mb.Get(keyFormat)); v != formatVersion {
			return fmt.Errorf("store: data file %s has format %q; this build reads %q", s.path, v, formatVersion)
		}
		snap, orphans, err = s.read(tx)
		if err != nil {
			return err
		}
		for cerr := range tx.Check() {
			if err == nil {
				err = corrupt(s.path, "%v", cerr)
			}
		}
		return err
	})
	if err != nil || !fresh {
		return snap, orphans, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := mb.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketRetained); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(bucketSessions)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: initialise %s: %w", s.path, err)
	}
	return snap, nil, nil
}

// safeView runs fn in a read transaction; a panic or memory fault inside
// it (a damaged page) becomes an ErrCorrupt error.
func (s *Bolt) safeView(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(s.path, "%v", r)
		}
	}()
	return s.db.View(fn)
}
